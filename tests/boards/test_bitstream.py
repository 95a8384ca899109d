# amaranth: UnusedElaboratable=no
"""End to end with the yowasp tools: the smallest iCEBreaker configuration
(EIE, 1 PE, sparse matrix in SPRAM) is synthesised, placed, routed and packed;
the report must show the SPRAM and the timing at the top's clock; then an
image is swapped into the bitstream with icebram, and the block RAMs of the
swapped bitstream (unpacked again with iceunpack) hold the image's words and
none of the placeholders. A few minutes: marked `full` and `bitstream`. One test function, so that
pytest-xdist never runs the build twice on two workers."""

import json
import os
import subprocess

import numpy as np
import pytest

from eiegen.boards.board import get_board
from eiegen.boards.bram import parse_hex, bit_slices
from eiegen.boards.build import build, RamPlacer
from eiegen.boards.report import parse_report
from eiegen.boards.swap import ice40_bram_slices
from eiegen.sim.testdata import random_compressed_model
from eiegen.sw import toolchain
from eiegen.sw.cli import main
from eiegen.sw.image import write_image
from eiegen.sw.packer import pack

pytestmark = [pytest.mark.bitstream, pytest.mark.full]

UP5K_BIN_BYTES = 104090


def test_icebreaker_build_report_and_swap(tmp_path, capsys):
    board = get_board("icebreaker")
    res = build(board, "eie", board.eie_params(n_pes=1), out_dir=tmp_path / "eie-1pe", progress=None)
    check_build(board, res)
    check_swap(board, res, tmp_path)
    check_swap_refuses_other_parameters(board, res, tmp_path, capsys)


def check_build(board, res):
    assert res.bitstream.name == "top.bin" and res.bitstream.stat().st_size == UP5K_BIN_BYTES
    r = res.report
    mhz = board.design_hz("eie") / 1e6            # the board's EIE clock (PLL)
    assert r.timing_met and r.fmax_mhz >= mhz and r.target_mhz == pytest.approx(mhz, rel=1e-4)
    logic, avail = r.used["logic"]
    assert 0 < logic <= avail == 5280
    assert r.used["spram"] == (1, 4)                 # one SPRAM per PE
    assert 1 <= r.used["dsp"][0] <= 8
    assert 1 <= r.used["bram"][0] <= 30
    # the files the report came from agree with it
    assert parse_report(res.out_dir / "report.json", board).to_dict() == r.to_dict()
    text = (res.out_dir / "report.txt").read_text()
    assert f"{logic} / 5280" in text and "timing met" in text
    info = json.loads((res.out_dir / "build.json").read_text())
    assert info["board"] == "icebreaker" and info["params"]["n_pes"] == 1
    assert {r["name"]: r["kind"] for r in info["rams"]}["pe00_spmat"] == "spram"


def check_swap(board, res, tmp_path):
    params = board.eie_params(n_pes=1)
    image = pack(random_compressed_model(np.random.default_rng(11), [16, 16, 10], 0.35), params)
    img_dir = write_image(image, tmp_path / "image")
    out = tmp_path / "model.bin"
    assert main(["swap", str(res.out_dir), str(img_dir), "-o", str(out)]) == 0
    data = out.read_bytes()
    assert len(data) == UP5K_BIN_BYTES and data != res.bitstream.read_bytes()

    env = toolchain.configure(dict(os.environ))
    unpack = env["ICEPACK"].replace("icepack", "iceunpack")
    subprocess.run([unpack, "model.bin", "model.asc"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    placed = set(ice40_bram_slices((tmp_path / "model.asc").read_text()))
    info = json.loads((res.out_dir / "build.json").read_text())
    words = RamPlacer._words_of(image)
    for rec in info["rams"]:
        if rec["kind"] != "bram":
            continue
        sw, sd = rec["store_width"], rec["store_depth"]
        ph = parse_hex((res.out_dir / "placeholders" / f"{rec['name']}.hex").read_text(), sw, "ph")
        new = RamPlacer.stored_words(rec, words)
        new += [0] * (sd - len(new))
        for before, after in zip(bit_slices(ph, sw, 256), bit_slices(new, sw, 256)):
            assert after in placed, rec["name"]
            assert before not in placed or before == after, rec["name"]


def check_swap_refuses_other_parameters(board, res, tmp_path, capsys):
    built = board.eie_params().act_depth
    other = board.eie_params(n_pes=1, act_depth=2 * built)     # an image for another array
    image = pack(random_compressed_model(np.random.default_rng(2), [16, 8], 0.3), other)
    img_dir = write_image(image, tmp_path / "other")
    assert main(["swap", str(res.out_dir), str(img_dir), "-o", str(tmp_path / "x.bin")]) == 2
    err = capsys.readouterr().err
    assert f"act_depth = {2 * built} in the image, {built} in the build" in err
    assert not (tmp_path / "x.bin").exists()
