"""image.bin and the load plan (sw/linkimage.py): the frames that load an image
put exactly the image's words into the host-bus memories, fit every link,
and end with a COMMIT whose checksum is the load checksum of the writes."""

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams, MEMORY_IDS
from eiegen.sw.image import write_image, read_image
from eiegen.sw.packer import pack
from eiegen.sw.linkimage import (image_frames, load_writes, load_checksum_of, word_bytes,
                                 describe_addr, NUM_LAYERS_REG, watchdog_cycles, WATCHDOG_MARGIN,
                                 WATCHDOG_SLACK)
from eiegen.hw.eie.params import CONTROL_REGS
from eiegen.sw.link import protocol as P
from eiegen.sw.link.protocol import Cmd
from eiegen.sim.testdata import random_compressed_model

NUM_LAYERS_REG = CONTROL_REGS["num_layers"]

PARAMS = EIEParams(n_pes=3, entries_per_word=4, spmat_depth=512, ptr_depth=128, bias_depth=64,
                   act_depth=32, max_layers=4)


@pytest.fixture(scope="module")
def image():
    model = random_compressed_model(np.random.default_rng(4), [70, 90, 12], [0.5, 0.3])
    return pack(model, PARAMS)


def _replay(frames, params):
    """Memories as a board would hold them after executing the WRITE frames."""
    wbs = {**word_bytes(params), "link": P.LINK_WORD_BYTES}
    names = {**{v: k for k, v in MEMORY_IDS.items()}, P.LINK_TARGET: "link"}
    mem = {}
    for f in frames:
        if f.cmd != Cmd.WRITE:
            continue
        target, pe, word = P.split_addr(f.addr)
        wb = wbs[names[target]]
        assert len(f.payload) % wb == 0 and 0 < len(f.payload) <= P.MIN_MAX_PAYLOAD
        d = mem.setdefault((names[target], pe), {})
        for i, v in enumerate(P.unpack_words(f.payload, wb)):
            assert word + i not in d, f"{names[target]} PE {pe} word {word + i} written twice"
            d[word + i] = v
    return mem


def _words(d):
    assert sorted(d) == list(range(len(d))), "the words written are not contiguous from 0"
    return [d[i] for i in range(len(d))]


def test_frames_load_exactly_the_image(image):
    frames = P.decode_frames(b"".join(image_frames(image)))
    assert frames[0].cmd == Cmd.BEGIN and frames[-1].cmd == Cmd.COMMIT
    assert all(f.cmd == Cmd.WRITE for f in frames[1:-1])
    # consecutive frames never share a TAG (no false retransmission)
    assert all(a.tag != b.tag for a, b in zip(frames, frames[1:]))
    mem = _replay(frames, PARAMS)
    assert _words(mem[("layers", 0)]) == [int(w) for w in image.layer_words()]
    assert _words(mem[("codebook", 0)]) == [int(w) for w in image.codebook_words()]
    assert mem[("control", 0)] == {NUM_LAYERS_REG: len(image.layers)}
    assert mem[("link", 0)] == {0: watchdog_cycles(image)}
    for pe in range(PARAMS.n_pes):
        for name, _, words in image.memories(pe):
            assert _words(mem[(name, pe)]) == [int(w) for w in words], (name, pe)
    assert len(mem) == 4 + 4 * PARAMS.n_pes
    # the COMMIT carries the load checksum of the WRITE frames, in order
    checksum = int.from_bytes(frames[-1].payload, "little")
    assert checksum == P.load_checksum(frames[1:-1]) == load_checksum_of(image)
    assert checksum == P.load_checksum(load_writes(image))


def test_num_layers_register_is_written(image):
    writes = load_writes(image)
    addr, payload = writes[-2]
    assert addr == P.make_addr(MEMORY_IDS["control"], 0, NUM_LAYERS_REG)
    assert int.from_bytes(payload, "little") == len(image.layers) == 2


def test_the_run_watchdog_is_written_last_from_the_cycle_model(image):
    from eiegen.sim.eie_cycles import simulate
    addr, payload = load_writes(image)[-1]
    assert addr == P.WATCHDOG_ADDR
    limit = int.from_bytes(payload, "little")
    assert limit == watchdog_cycles(image)
    # the slowest input: every activation of every layer non-zero, the shallowest queue
    worst = [np.ones(l.n_in, dtype=np.int64) for l in image.layers]
    slowest = simulate(image, worst[0], fifo_depth=1, layer_inputs=worst).total_cycles
    assert limit == WATCHDOG_MARGIN * slowest + WATCHDOG_SLACK
    # every real input runs well inside it, at any queue depth
    rng = np.random.default_rng(5)
    for depth in (1, 8):
        for _ in range(5):
            x = rng.integers(-300, 300, image.layers[0].n_in) * (rng.random(image.layers[0].n_in) < 0.7)
            assert simulate(image, x, fifo_depth=depth).total_cycles <= slowest
    assert describe_addr(addr) == "the link's run watchdog"


def test_frames_split_at_the_smallest_link_buffer(image):
    writes = load_writes(image)
    spmat = [(a, p) for a, p in writes if a >> 24 == MEMORY_IDS["spmat"]]
    assert any(len(p) == P.MIN_MAX_PAYLOAD for _, p in spmat)       # long memories are split
    small = load_writes(image, max_payload=64)
    assert max(len(p) for _, p in small) <= 64
    assert _replay([P.Frame(Cmd.WRITE, a, p) for a, p in small], PARAMS) == \
        _replay([P.Frame(Cmd.WRITE, a, p) for a, p in writes], PARAMS)


def test_image_bin_written_by_pack(tmp_path, image):
    write_image(image, tmp_path / "img")
    data = (tmp_path / "img" / "image.bin").read_bytes()
    assert data == b"".join(image_frames(image))
    again = read_image(tmp_path / "img")
    assert b"".join(image_frames(again)) == data


def test_describe_addr():
    assert describe_addr(P.make_addr(MEMORY_IDS["spmat"], 2, 17)) == "spmat of PE 2, word 17"
    assert describe_addr(P.make_addr(MEMORY_IDS["codebook"], 0, 5)) == "codebook word 5"
