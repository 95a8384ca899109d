# amaranth: UnusedElaboratable=no
"""boards/build.py and boards/bram.py without the FPGA tools: RAM placement
(SPRAM for the iCE40UP sparse matrices, padded block RAM for the rest),
placeholders distinct for the swap tools, baking an image, and the checks
that refuse what a board cannot hold."""

import os
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment

from eiegen.boards.board import get_board, BoardError
from eiegen.boards.bram import placeholder_words, bit_slices, padded_geometry, hex_text, parse_hex
from eiegen.boards.build import RamPlacer, board_platform, default_build_dir, BuildError
from eiegen.boards.top import BoardTop
from eiegen.sim.testdata import random_compressed_model
from eiegen.sw.errors import ImageError
from eiegen.sw.packer import pack


def elaborate(board, params, placer):
    top = BoardTop(board, "eie", params)
    plat = board_platform(board, placer)
    Fragment.get(top, plat)
    # platform.prepare() (which runs Yosys, skipped here) would elaborate the pin buffers
    for _pin, _port, buffer in plat.iter_pins():
        buffer._MustUse__used = True
    return top


def test_icebreaker_places_sparse_matrices_in_spram():
    ice = get_board("icebreaker")
    p = ice.eie_params(n_pes=2)
    placer = RamPlacer(ice)
    elaborate(ice, p, placer)
    recs = placer.records
    assert {n for n, r in recs.items() if r.kind == "spram"} == {"pe00_spmat", "pe01_spmat"}
    assert all(recs[n].blocks == 1 for n in ("pe00_spmat", "pe01_spmat"))
    expect_bram = {"layers", "codebook"} | {f"pe{i:02d}_{m}" for i in range(2)
                                           for m in ("ptr_even", "ptr_odd", "bias")}
    assert {n for n, r in recs.items() if r.kind == "bram"} == expect_bram
    for n in expect_bram:
        r = recs[n]
        assert r.store_depth % 256 == 0 and r.store_depth >= r.depth
        assert r.store_width % 4 == 0 and r.store_width >= r.width
        assert not r.baked
    placer.check_distinct()


def test_ulx3s_has_no_spram_and_pads_to_512_words():
    ulx = get_board("ulx3s")
    p = ulx.eie_params(n_pes=2)
    placer = RamPlacer(ulx)
    elaborate(ulx, p, placer)
    assert all(r.kind == "bram" for r in placer.records.values())
    assert "pe01_spmat" in placer.records
    assert all(r.store_depth % 512 == 0 for r in placer.records.values())
    # the two pointer banks share one true dual-port block RAM (one port each)
    ptr = placer.records["pe00_ptr_even+pe00_ptr_odd"]
    assert (ptr.width, ptr.store_width) == (p.ptr_width, -(-p.ptr_width // 4) * 4)
    assert ptr.depth == 2 * p.ptr_depth
    placer.check_distinct()


class FakeRAM:
    def __init__(self, name, width, depth):
        self.name, self.width, self.depth = name, width, depth


def place(placer, ram):
    impl = placer(ram)
    if impl is not None:
        Fragment.get(impl, None)
    return impl


def test_too_many_sprams_is_refused_before_synthesis():
    ice = get_board("icebreaker")
    p = ice.eie_params(n_pes=5)
    placer = RamPlacer(ice)
    for i in range(4):
        place(placer, FakeRAM(f"pe{i:02d}_spmat", p.spmat_width, p.spmat_depth))
    with pytest.raises(BoardError, match=r"need 5 SB_SPRAM256KA .*'pe04_spmat'.*device has 4"):
        place(placer, FakeRAM("pe04_spmat", p.spmat_width, p.spmat_depth))


def test_image_is_baked_into_block_ram_not_spram():
    ice = get_board("icebreaker")
    p = ice.eie_params(n_pes=1)
    model = random_compressed_model(np.random.default_rng(3), [12, 10, 6], 0.4)
    image = pack(model, p)
    placer = RamPlacer(ice, image=image)
    elaborate(ice, p, placer)
    assert placer.records["pe00_ptr_even"].baked and placer.records["layers"].baked
    assert not placer.records["pe00_spmat"].baked            # SPRAM: loaded over the link
    assert placer.placeholders() == {}
    even, odd = image.ptr_banks(0)
    assert placer._contents["pe00_ptr_even"] == [int(w) for w in even]
    assert placer._contents["codebook"] == [int(w) for w in image.codebook_words()]


def test_image_larger_than_the_ram_is_refused():
    ice = get_board("icebreaker")
    p = ice.eie_params(n_pes=1)
    image = pack(random_compressed_model(np.random.default_rng(3), [12, 10, 6], 0.4), p)
    placer = RamPlacer(ice, image=image)
    placer._image_words["pe00_bias"] = [1] * (p.bias_depth + 1)
    with pytest.raises(ImageError, match="pe00_bias"):
        place(placer, FakeRAM("pe00_bias", 16, p.bias_depth))


def test_placeholders_are_deterministic_distinct_and_fit_the_width():
    a = placeholder_words("pe00_bias", 16, 256, seed=0)
    assert a == placeholder_words("pe00_bias", 16, 256, seed=0)
    assert a != placeholder_words("pe00_bias", 16, 256, seed=1)
    assert a != placeholder_words("pe01_bias", 16, 256, seed=0)
    w = placeholder_words("x", 13, 512)
    assert max(w) < 1 << 13 and max(w) >= 1 << 12
    sl = bit_slices(a, 16, 256)
    assert len(sl) == 16 and len(set(sl)) == 16
    assert bit_slices([1, 2, 3, 0], 2, 2) == [(1, 0), (1, 0), (0, 1), (1, 0)]


def test_duplicate_ram_names_are_refused():
    ice = get_board("icebreaker")
    placer = RamPlacer(ice)
    place(placer, FakeRAM("pe00_bias", 16, 256))
    with pytest.raises(BuildError, match="two RAMs are named 'pe00_bias'"):
        place(placer, FakeRAM("pe00_bias", 16, 256))


def test_geometry_and_hex_helpers():
    assert padded_geometry(13, 300, 256) == (16, 512)
    assert padded_geometry(64, 4, 512) == (64, 512)
    words = [0, 0x1fff, 0x1234]
    text = hex_text(words, 13)
    assert text == "0000\n1fff\n1234\n"
    assert parse_hex(text, 13, "f") == words
    with pytest.raises(ImageError, match="f:2: word 0x2000 is wider than 13 bits"):
        parse_hex("0\n2000\n", 13, "f")


def test_default_build_dir_names_board_design_and_size():
    ice = get_board("icebreaker")
    assert str(default_build_dir(ice, "eie", ice.eie_params(n_pes=2))).endswith("icebreaker-eie-2pe")
    assert str(default_build_dir(ice, "eie-alone", ice.eie_params(n_pes=2))).endswith("icebreaker-eie-alone-2pe")
    assert str(default_build_dir(ice, "systolic", ice.systolic_params())).endswith("icebreaker-systolic-4x2")


@pytest.mark.parametrize("name, mhz, prim", [("icebreaker", 12, None), ("icebreaker", 18, "SB_PLL40_PAD"),
                                             ("icebreaker", None, "pll if the EIE clock is not 12 MHz"),
                                             ("ulx3s", 25, None), ("ulx3s", 40, "EHXPLLL"),
                                             ("ulx3s", None, "pll if the EIE clock is not 25 MHz")])
def test_top_netlist_clock_and_constraint(name, mhz, prim):
    board = get_board(name)
    if mhz is None:             # the board's EIE clock: a PLL unless it is the oscillator's
        hz = board.design_hz("eie")
        prim = None if hz == board.clock_hz else {"ice40": "SB_PLL40_PAD", "ecp5": "EHXPLLL"}[board.family]
    plat = board_platform(board, RamPlacer(board))
    top = BoardTop(board, "eie", board.eie_params(n_pes=1), sync_hz=mhz and mhz * 1e6)
    plan = plat.prepare(top, name="top")
    il = plan.files["top.il"]
    for p in ("SB_PLL40_PAD", "EHXPLLL"):
        assert (p in il) == (p == prim)
    assert "SB_SPRAM256KA" in il if name == "icebreaker" else "SB_SPRAM256KA" not in il
    # the clock of `sync` is constrained at the requested frequency
    hz = mhz * 1e6 if mhz else board.design_hz("eie")
    if board.family == "ice40":
        found = [float(f) * 1e6 for f in re.findall(r"^set_frequency \S+ (\S+)$", plan.files["top.pcf"], re.M)]
    else:
        found = [float(f) for f in re.findall(r'^FREQUENCY (?:NET|PORT) "[^"]+" (\S+) HZ;$',
                                               plan.files["top.lpf"], re.M)]
    assert hz in found and board.clock_hz in found


def test_a_design_that_does_not_fit_is_reported_with_what_overflowed(tmp_path):
    from eiegen.boards.build import _run_script
    (tmp_path / "top.tim").write_text(
        "Info: Device utilisation:\n"
        "Info: \t         ICESTORM_LC:    5912/   5280   111%\n"
        "Info: \t        ICESTORM_RAM:      20/     30    66%\n")
    (tmp_path / "build_top.sh").write_text(
        "echo \"ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'\"\n"
        "exit 125\n")
    keep = tmp_path / "out.failed.log"
    with pytest.raises(BuildError) as e:
        _run_script(tmp_path, "top", get_board("icebreaker"), dict(os.environ), None, failed_log=keep)
    msg = str(e.value)
    assert "exit 125" in msg and "does not fit the device: it needs 5912 ICESTORM_LC of 5280" in msg
    assert "no BELs remaining" in msg and str(keep) in msg
    assert "ICESTORM_LC:    5912/" in keep.read_text()


def test_packer_options_are_kept_for_the_swap(tmp_path):
    from eiegen.boards.build import _pack_opts
    script = tmp_path / "build_top.sh"
    script.write_text('"$YOSYS" -q top.ys\n"$ECPPACK" --compress --input top.config --bit top.bit --svf top.svf\n')
    assert _pack_opts(script, get_board("ulx3s")) == ["--compress"]
    script.write_text('"$ICEPACK" top.asc top.bin\n')
    assert _pack_opts(script, get_board("icebreaker")) == []


def test_nextpnr_progress_from_its_log():
    from eiegen.boards.build import pnr_progress
    assert pnr_progress("Info: Packing constants..\n") is None
    log = ("Info:     at initial placer iter 2, wirelen = 344\n"
           "Info: Running main analytical placer, max placement attempts per cell = 192200.\n"
           "Info:     at iteration #3, type ALL: wirelen solved = 617, spread = 4957, legal = 5929; time = 0.21s\n")
    assert pnr_progress(log) == "analytic placement, iteration 3 (wirelength 5929)"
    log += "Info:   at iteration #10: temp = 0.000000, timing cost = 398, wirelen = 3354\n"
    assert pnr_progress(log) == "annealing placement, iteration 10 (wirelength 3354)"
    log += ("Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|\n"
            "Info:       2000 |      275       1719 |  185   810 |      2374|       0.95       3.12|\n")
    assert pnr_progress(log) == "routing (router1), 2374 arcs left after 2000 iterations"
    log += ("Info: Running router2...\n"
            "Info:     iter=7 wires=20078 overused=56 overuse=57 archfail=NA\n")
    assert pnr_progress(log) == "routing (router2), iteration 7, 56 wires overused"


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s"])
def test_baked_words_land_where_the_array_reads_them(name):
    """A PE's bias words sit after its two activation files in one memory
    (init_offset), and on the ECP5 the two pointer banks share one block
    RAM: baking (and the swap, which uses the same stored_words) puts every
    image word at the address the RTL reads it from."""
    board = get_board(name)
    p = board.eie_params(n_pes=2, act_depth=16, bias_depth=32, ptr_depth=64, spmat_depth=512)
    image = pack(random_compressed_model(np.random.default_rng(5), [20, 30, 10], 0.4), p)
    placer = RamPlacer(board, image=image)
    elaborate(board, p, placer)
    words = RamPlacer._words_of(image)
    bias = placer.records["pe01_bias"]
    assert bias.baked and bias.offset == 2 * p.act_depth
    stored = RamPlacer.stored_words(bias, words)
    assert stored[:bias.offset] == [0] * bias.offset
    assert stored[bias.offset:] == words["pe01_bias"] and any(words["pe01_bias"])
    assert placer._contents["pe01_bias"][:len(stored)] == stored
    if name == "ulx3s":
        rec = placer.records["pe01_ptr_even+pe01_ptr_odd"]
        stored = RamPlacer.stored_words(rec, words)
        half = rec.depth // 2
        assert stored[:len(words["pe01_ptr_even"])] == words["pe01_ptr_even"]
        assert stored[half:half + len(words["pe01_ptr_odd"])] == words["pe01_ptr_odd"]
        assert placer._contents[rec.name][:len(stored)] == stored


@pytest.mark.parametrize("board_name", ["icebreaker", "ulx3s"])
def test_identify_reports_the_image_interface_and_fits_the_links_block_rams(board_name):
    """IDENTIFY carries the EIE parameters an image depends on (not the
    pipeline's timing fields), and with a 256-byte payload the link's data
    RAM stays within 512 bytes (one iCE40 block RAM in 512 x 8) and its
    program, with the identify bytes that do not fit the RAM, within 768
    words on the iCE40 (three in 256 x 16: the link's four block RAMs) and
    1024 on the ECP5 (one DP16KD)."""
    from eiegen.hw.common.linkcode import IDENT_IN_RAM
    from eiegen.hw.eie.params import IDENTIFY_FIELDS, IMAGE_FIELDS
    from eiegen.sw.link.protocol import decode_identify
    board = get_board(board_name)
    link = BoardTop(board, "eie", board.eie_params()).host_link()
    ident = decode_identify(link.core.identify_bytes)
    assert tuple(ident["params"]) == IDENTIFY_FIELDS and set(IMAGE_FIELDS) <= set(ident["params"])
    assert ident["params"] == {k: getattr(board.eie_params(), k) for k in IDENTIFY_FIELDS}
    assert link.core.ram_depth <= 512
    # the program: three iCE40 block RAMs of 256 x 16, one ECP5 DP16KD of 1024 x 18
    assert len(link.core.code) <= {"ice40": 768, "ecp5": 1024}[board.family]
    assert len(link.core.identify_bytes) > IDENT_IN_RAM      # (so the program holds the rest)
