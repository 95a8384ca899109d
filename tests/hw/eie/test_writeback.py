"""hw/eie/writeback.py against eiegen.sw.fixedpoint.writeback (the spec):
round half up ((acc + half) >> FRAC, so -0.5 LSB rounds toward +inf),
saturate to int16, then ReLU; two register stages (acc at t -> y at t + 2,
valid and k carried along)."""

import numpy as np
import pytest

from eiegen.hw.eie.writeback import Writeback
from eiegen.sim.amaranth_sim import run
from eiegen.sw.fixedpoint import writeback as spec

LATENCY = 2


def _values(acc_width, frac, rng):
    """Every rounding case (r = 0, half-1, half, half+1, one-1 below each
    multiple of 2^frac) around zero, around the int16 rails and at the ends
    of the accumulator, plus random accumulators."""
    lo, hi = -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1
    one = 1 << frac
    half = one >> 1
    rs = sorted({0, 1, max(half - 1, 0), half, half + 1, one - 1} & set(range(one)))
    ks = list(range(-4, 5)) + [32767 + d for d in range(-2, 3)] + [-32768 + d for d in range(-3, 3)]
    vals = {k * one + r for k in ks for r in rs}
    vals |= {lo, lo + 1, lo + half, hi, hi - 1, hi - half, 0}
    vals |= {int(v) for v in rng.integers(lo, hi, 300, endpoint=True)}
    vals |= {int(v) for v in rng.integers(-(40000 * one), 40000 * one, 300)}
    return sorted(v for v in vals if lo <= v <= hi)


def _exact(v, frac, relu):
    """Plain-integer reference (no int64 limit)."""
    y = (v + ((1 << frac) >> 1)) >> frac
    y = min(32767, max(-32768, y))
    return max(y, 0) if relu else y


def _check(dut, values, expect, kw):
    """Feed one accumulator a cycle (with random valid gaps and k), check y,
    y_valid and y_k exactly LATENCY cycles later."""
    rng = np.random.default_rng(len(values))
    sched = []
    for relu in (False, True):
        for v, e in zip(values, expect[relu]):
            sched.append((True, int(rng.integers(1 << kw)), v, relu, int(e)))
            if rng.random() < 0.2:
                sched.append((False, int(rng.integers(1 << kw)), 0, relu, None))
    seen = []

    async def tb(ctx):
        for t in range(len(sched) + LATENCY):
            if t < len(sched):
                valid, k, v, relu, _ = sched[t]
                ctx.set(dut.valid, valid)
                ctx.set(dut.k, k)
                ctx.set(dut.acc, v)
                ctx.set(dut.relu, relu)
            seen.append((ctx.get(dut.y_valid), ctx.get(dut.y_k), ctx.get(dut.y)))
            await ctx.tick()

    run(dut, tb)
    assert all(s[0] == 0 for s in seen[:LATENCY])        # nothing before the pipeline fills
    for t, (valid, k, v, relu, e) in enumerate(sched):
        got_valid, got_k, y = seen[t + LATENCY]
        assert got_valid == valid and got_k == k, (t, valid, k, got_valid, got_k)
        if valid:
            assert y == e, (v, relu, y, e)


@pytest.mark.parametrize("acc_width, frac", [(17, 0), (32, 0), (24, 7), (25, 8), (32, 8),
                                             (32, 15), (40, 15)])
def test_matches_fixedpoint_writeback(acc_width, frac):
    rng = np.random.default_rng(acc_width * 16 + frac)
    values = _values(acc_width, frac, rng)
    expect = {relu: spec(np.array(values, dtype=np.int64), frac, relu) for relu in (False, True)}
    # the reference itself agrees with exact integers here
    assert all(int(e) == _exact(v, frac, False) for v, e in zip(values, expect[False]))
    _check(Writeback(acc_width, frac, kw=3), values, expect, 3)


@pytest.mark.parametrize("frac", [0, 8, 15])
def test_64_bit_accumulator(frac):
    # EIEParams allows acc_width 64; near its top, acc + half no longer fits
    # an int64, so the reference here is plain Python integers
    rng = np.random.default_rng(frac)
    values = _values(64, frac, rng)
    expect = {relu: [_exact(v, frac, relu) for v in values] for relu in (False, True)}
    _check(Writeback(64, frac, kw=2), values, expect, 2)


def test_rounding_and_rails_directed():
    # FRAC 8: 0x80 is +0.5 LSB -> 1; -0x80 is -0.5 LSB -> 0 (toward +inf);
    # -0x81 -> -1; the int16 rails saturate; ReLU clamps negatives only
    cases = [(0x80, 0, 1), (0x7F, 0, 0), (-0x80, 0, 0), (-0x81, 0, -1), (0x180, 0, 2),
             (-0x180, 0, -1), (32767 << 8, 0, 32767), ((32767 << 8) + 0x7F, 0, 32767),
             ((32767 << 8) + 0x80, 0, 32767), (1 << 30, 0, 32767), (-(1 << 31), 0, -32768),
             (-32768 << 8, 0, -32768), ((-32768 << 8) - 0x81, 0, -32768),
             (-0x81, 1, 0), (-(1 << 31), 1, 0), (0x80, 1, 1), (1 << 30, 1, 32767)]
    values = [c[0] for c in cases]
    expect = {relu: [c[2] if c[1] == relu else _exact(c[0], 8, relu) for c in cases]
              for relu in (False, True)}
    _check(Writeback(32, 8, kw=1), values, expect, 1)
