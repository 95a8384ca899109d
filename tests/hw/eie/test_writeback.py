"""hw/eie/writeback.py against eiegen.sw.fixedpoint.writeback (the spec):
round half up ((acc + half) >> FRAC, so -0.5 LSB rounds toward +inf),
saturate to int16, then ReLU."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.writeback import Writeback
from eiegen.sw.fixedpoint import writeback as spec


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


@pytest.mark.parametrize("acc_width, frac", [(17, 0), (32, 0), (24, 7), (25, 8), (32, 8),
                                             (32, 15), (40, 15)])
def test_matches_fixedpoint_writeback(acc_width, frac):
    rng = np.random.default_rng(acc_width * 16 + frac)
    values = _values(acc_width, frac, rng)
    expect = {relu: spec(np.array(values, dtype=np.int64), frac, relu) for relu in (False, True)}
    _check(Writeback(acc_width, frac), values, expect)


def _exact(v, frac, relu):
    y = (v + ((1 << frac) >> 1)) >> frac
    y = min(32767, max(-32768, y))
    return max(y, 0) if relu else y


@pytest.mark.parametrize("frac", [0, 8, 15])
def test_64_bit_accumulator(frac):
    # EIEParams allows acc_width 64; near its top, acc + half no longer fits
    # an int64, so the reference here is plain Python integers
    rng = np.random.default_rng(frac)
    values = _values(64, frac, rng)
    expect = {relu: [_exact(v, frac, relu) for v in values] for relu in (False, True)}
    _check(Writeback(64, frac), values, expect)


def _check(dut, values, expect):

    async def tb(ctx):
        for relu in (False, True):
            ctx.set(dut.relu, relu)
            for v, e in zip(values, expect[relu]):
                ctx.set(dut.acc, v)
                assert ctx.get(dut.y) == int(e), (v, relu)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()


def test_rounding_and_rails_directed():
    # FRAC 8: 0x80 is +0.5 LSB -> 1; -0x80 is -0.5 LSB -> 0 (toward +inf);
    # -0x81 -> -1; the int16 rails saturate; ReLU clamps negatives only
    dut = Writeback(32, 8)
    cases = [(0x80, 0, 1), (0x7F, 0, 0), (-0x80, 0, 0), (-0x81, 0, -1), (0x180, 0, 2),
             (-0x180, 0, -1), (32767 << 8, 0, 32767), ((32767 << 8) + 0x7F, 0, 32767),
             ((32767 << 8) + 0x80, 0, 32767), (1 << 30, 0, 32767), (-(1 << 31), 0, -32768),
             (-32768 << 8, 0, -32768), ((-32768 << 8) - 0x81, 0, -32768),
             (-0x81, 1, 0), (-(1 << 31), 1, 0), (0x80, 1, 1), (1 << 30, 1, 32767)]

    async def tb(ctx):
        for acc, relu, y in cases:
            ctx.set(dut.acc, acc)
            ctx.set(dut.relu, relu)
            assert ctx.get(dut.y) == y, (hex(acc), relu)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
