"""Tiling: layouts, widths, capacity and quantisation errors, program shape."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.sw.errors import CapacityError, EiegenError
from eiegen.sw.systolic import (Layer, QuantError, SystolicError, busmap, compile_layers,
                                compile_matmul, quant_from_scale)
from eiegen.sw.systolic.compiler import pack_tiles, unpack_tiles, weight_tile


def test_pack_unpack_roundtrip():
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (5, 11))
    rows = pack_tiles(a, 4, 6)
    assert rows.shape == (15, 6)
    np.testing.assert_array_equal(rows[5 + 2, :4], a[2, 4:8])
    np.testing.assert_array_equal(rows[10 + 1, :3], a[1, 8:11])
    assert not rows[10:, 3:].any()
    np.testing.assert_array_equal(unpack_tiles(rows, 5, 11, 4), a)


def test_weight_tiles_are_zero_padded():
    p = SystolicParams(rows=3, cols=2)
    w = np.arange(1, 1 + 5 * 3).reshape(5, 3)
    t = weight_tile(w, 1, 1, 3, 2, p)
    np.testing.assert_array_equal(t, [[12, 0], [15, 0], [0, 0]])


def test_program_structure():
    p = SystolicParams(rows=4, cols=4, acc_depth=64)
    comp = compile_matmul(10, np.ones((12, 8), dtype=int), p, mult=3, shift=2, relu=True)
    ops = [i.op for i in comp.program]
    # 3 k-tiles x 2 n-tiles: 6 RW, 6 MMUL, 2 ACT, 1 SETQ, 1 HALT
    assert ops.count("RW") == 6 and ops.count("MMUL") == 6 and ops.count("ACT") == 2
    assert ops[-1] == "HALT" and ops[0] == "RW"
    mm = [i for i in comp.program if i.op == "MMUL"]
    assert [i.accumulate for i in mm] == [False, True, True] * 2
    acts = [i for i in comp.program if i.op == "ACT"]
    assert acts[0].a != acts[1].a, "n-tiles alternate accumulator regions"
    assert all(a.relu for a in acts)
    assert comp.useful_macs == 10 * 12 * 8


def test_m_is_chunked_to_fit_the_accumulators():
    p = SystolicParams(rows=2, cols=2, acc_depth=8)
    comp = compile_matmul(10, np.ones((2, 2), dtype=int), p)
    mm = [i for i in comp.program if i.op == "MMUL"]
    assert [i.n for i in mm] == [4, 4, 2]
    assert max(i.b + i.n for i in mm) <= 8


def test_widths_between_chained_layers():
    p = SystolicParams(rows=4, cols=8)
    comp = compile_layers(3, [Layer(np.ones((10, 9), dtype=int)), Layer(np.ones((9, 5), dtype=int))], p)
    assert comp.x.width == 4 and comp.y.width == 8
    with pytest.raises(SystolicError, match="tile width"):
        compile_layers(3, [Layer(np.ones((4, 4), dtype=int))], p, widths=[5, 8])


@pytest.mark.parametrize("kw,exc,msg", [
    (dict(m=4, w=np.ones((4, 4), dtype=int), mult=0), QuantError, "multiplier 0"),
    (dict(m=4, w=np.ones((4, 4), dtype=int), mult=-1), QuantError, "negative"),
    (dict(m=4, w=np.ones((4, 4), dtype=int), shift=99), QuantError, "shift 99"),
    (dict(m=4, w=np.full((4, 4), 128)), SystolicError, r"weight\[0, 0\] = 128"),
    (dict(m=4, w=np.ones((4, 4)) * 0.5), SystolicError, "integers"),
    (dict(m=0, w=np.ones((4, 4), dtype=int)), SystolicError, "batch size"),
    (dict(m=4, w=np.ones(4, dtype=int)), SystolicError, "2-D"),
    (dict(m=200, w=np.ones((40, 4), dtype=int)), CapacityError, "unified buffer.*overflow"),
    (dict(m=1, w=np.ones((400, 40), dtype=int)), CapacityError, "weight memory.*overflow"),
    (dict(m=40, w=np.ones((4, 40), dtype=int), output="int32"), CapacityError, "accumulators"),
])
def test_errors(kw, exc, msg):
    p = SystolicParams(rows=4, cols=4, ub_depth=256, acc_depth=32, wmem_depth=512)
    m = kw.pop("m")
    w = kw.pop("w")
    with pytest.raises(exc, match=msg):
        compile_matmul(m, w, p, **kw)
    assert issubclass(exc, EiegenError)


def test_chain_shape_mismatch():
    p = SystolicParams(rows=2, cols=2)
    with pytest.raises(SystolicError, match="previous layer gives 3"):
        compile_layers(2, [Layer(np.ones((2, 3), dtype=int)), Layer(np.ones((4, 2), dtype=int))], p)


def test_quant_from_scale():
    p = SystolicParams()
    for scale in (1.0, 0.5, 1 / 3, 0.00123, 200.0):
        mult, shift = quant_from_scale(scale, p)
        assert 1 <= mult < 2 ** 16
        assert abs(mult / 2 ** shift - scale) <= scale * 2 ** -14
    with pytest.raises(QuantError):
        quant_from_scale(-1.0, p)
    with pytest.raises(QuantError):
        quant_from_scale(1e9, p)


def test_busmap_roundtrip():
    rng = np.random.default_rng(4)
    for p in (SystolicParams(rows=3, cols=11), SystolicParams(rows=2, cols=2, in_width=12),
              SystolicParams(rows=1, cols=5, acc_width=24)):
        for mem, lanes, width in (("ub", p.ub_lanes, p.in_width), ("wmem", p.cols, p.in_width),
                                  ("acc", p.cols, p.acc_width)):
            rows = rng.integers(-2 ** (width - 1), 2 ** (width - 1), (4, lanes))
            addrs, words = busmap.write_words(p, mem, 2, rows)
            assert list(addrs) == list(busmap.read_addrs(p, mem, 2, 4))
            np.testing.assert_array_equal(busmap.decode_words(p, mem, words, 4), rows)
            assert all(int(a) >> 24 == busmap.layout(p, mem).target for a in addrs)
