"""ActivationUnit: ReLU and requantisation corner cases against the golden
model, for every way of sharing the requantiser (all lanes at once, groups
of lanes, bit-serial), and its pipeline timing (a row read every k cycles,
written P cycles after its read)."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.activation import ActivationUnit
from eiegen.hw.systolic.params import MEM_LATENCY
from eiegen.sim.amaranth_sim import run
from eiegen.sim.systolic_golden import requantize

#: (act_lanes, act_serial) of the requantiser variants
VARIANTS = [(0, 0), (1, 0), (3, 0), (0, 1), (2, 1)]


def _run(p, accs, mult, shift, relu, wait=0):
    """Feed the rows `accs` (n, C) as accumulator rows 0..n-1 through one ACT;
    returns (written rows by ub address, write cycles), read cycles."""
    dut = ActivationUnit(p)
    n = len(accs)
    writes = {}
    reads = []

    async def tb(ctx):
        ctx.set(dut.start, 1)
        for k, v in (("acc_addr", 0), ("ub_addr", 100), ("count", n), ("relu", int(relu)),
                     ("mult", mult), ("shift", shift), ("wait", wait), ("acc_end", n),
                     ("ub_end", 100 + n)):
            ctx.set(getattr(dut, k), v)
        await ctx.tick()                     # dispatch at cycle 0
        ctx.set(dut.start, 0)
        pending = []                         # (cycle the data is there, row)
        t = 1
        while ctx.get(dut.busy):
            # the memory's output register: the row read MEM_LATENCY cycles ago, held
            while pending and pending[0][0] <= t:
                ctx.set(dut.acc_rdata, [int(v) for v in accs[pending.pop(0)[1]]])
            if ctx.get(dut.ub_we):
                writes[ctx.get(dut.ub_waddr)] = (t, [ctx.get(dut.ub_wdata[c]) for c in range(p.cols)])
            if ctx.get(dut.acc_ren):
                reads.append(t)
                pending.append((t + MEM_LATENCY, ctx.get(dut.acc_raddr)))
            await ctx.tick()
            t += 1
            assert t < 10_000
        assert not ctx.get(dut.ub_we)

    run(dut, tb)
    return writes, reads


def _check(p, accs, mult, shift, relu, wait=0):
    writes, reads = _run(p, accs, mult, shift, relu, wait)
    want = requantize(np.asarray(accs), mult, shift, relu, p.in_width)
    assert sorted(writes) == list(range(100, 100 + len(accs)))
    assert reads == [reads[0] + i * p.act_row_cycles for i in range(len(accs))]
    for i in range(len(accs)):
        t, row = writes[100 + i]
        assert t == reads[i] + p.act_latency, "write act_latency cycles after the read"
        assert row == list(want[i]), (i, accs[i], row, list(want[i]))
    # busy ends right after the last write
    assert max(t for t, _ in writes.values()) == reads[-1] + p.act_latency
    return writes


def _params(lanes, serial, **kw):
    d = dict(rows=2, cols=4, act_lanes=lanes, act_serial=serial)
    d.update(kw)
    if d["act_lanes"] > d["cols"]:
        d["act_lanes"] = d["cols"]
    return SystolicParams(**d)


@pytest.mark.parametrize("lanes,serial", VARIANTS)
def test_saturation_both_ends_and_relu(lanes, serial):
    p = _params(lanes, serial)
    accs = [[2 ** 31 - 1, -2 ** 31, 1000, -1000],
            [128, -129, 127, -128],
            [255, -256, 0, -1]]
    _check(p, accs, mult=1, shift=0, relu=False)
    w = _check(p, accs, mult=1, shift=0, relu=True)
    assert w[100][1] == [127, 0, 127, 0]
    _check(p, accs, mult=65535, shift=0, relu=False)     # huge products saturate
    _check(p, accs, mult=65535, shift=47, relu=False)    # the largest shift
    _check(p, accs, mult=65535, shift=40, relu=False)    # a whole-byte shift


@pytest.mark.parametrize("lanes,serial", VARIANTS)
def test_rounding_of_halves_is_half_up(lanes, serial):
    p = _params(lanes, serial)
    # x / 2 for shift 1: 5/2 = 2.5 -> 3, -5/2 = -2.5 -> -2, 3/2 -> 2, -3/2 -> -1
    w = _check(p, [[5, -5, 3, -3], [1, -1, 7, -7]], mult=1, shift=1, relu=False)
    assert w[100][1] == [3, -2, 2, -1]
    assert w[101][1] == [1, 0, 4, -3]
    # x * 3 / 8: 4*3/8 = 1.5 -> 2; -4*3/8 = -1.5 -> -1; 12*3/8 = 4.5 -> 5
    w = _check(p, [[4, -4, 12, -12]], mult=3, shift=3, relu=False)
    assert w[100][1] == [2, -1, 5, -4]
    # 127.5 rounds up to 128 and saturates; -128.5 rounds to -128
    w = _check(p, [[255, -257, 254, -256]], mult=1, shift=1, relu=False)
    assert w[100][1] == [127, -128, 127, -128]


@pytest.mark.parametrize("lanes,serial", VARIANTS)
@pytest.mark.parametrize("mult_width,acc_width", [(16, 32), (32, 32), (8, 24), (1, 16), (16, 40)])
def test_random_against_golden(lanes, serial, mult_width, acc_width):
    p = _params(lanes, serial, cols=3, mult_width=mult_width, acc_width=acc_width)
    rng = np.random.default_rng(mult_width + acc_width + 7 * lanes + serial)
    accs = rng.integers(-2 ** (acc_width - 1), 2 ** (acc_width - 1), (5, 3))
    accs[0] = [2 ** (acc_width - 1) - 1, -2 ** (acc_width - 1), 0]
    for _ in range(3):
        mult = int(rng.integers(1, 2 ** mult_width))
        shift = int(rng.integers(0, p.max_shift + 1))
        _check(p, accs, mult, shift, relu=bool(rng.integers(2)))
    # near the saturation bounds, every shift
    for shift in range(0, p.max_shift + 1, 3):
        base = (127 << shift) // max(1, (1 << mult_width) - 1)
        near = np.clip(np.array([[base - 1, base, base + 1], [-base - 1, -base, -base + 1]]),
                       -2 ** (acc_width - 1), 2 ** (acc_width - 1) - 1)
        _check(p, near, (1 << mult_width) - 1, shift, relu=False)


def test_waits_before_reading():
    p = SystolicParams(rows=3, cols=2)
    # dispatched at cycle 0: the first read at max(1, wait)
    writes, reads = _run(p, [[1, 2], [3, 4]], mult=1, shift=0, relu=False, wait=5)
    assert reads[0] == 5
    writes, reads = _run(p, [[1, 2], [3, 4]], mult=1, shift=0, relu=False, wait=1)
    assert reads[0] == 1


def test_timing_constants():
    """k and P of the variants (the cycle model's, docs/systolic.md)."""
    assert (_params(0, 0).act_row_cycles, _params(0, 0).act_latency) == (1, 9)
    assert (_params(1, 0).act_row_cycles, _params(1, 0).act_latency) == (4, 12)
    assert (_params(2, 0).act_row_cycles, _params(2, 0).act_latency) == (2, 10)
    p = _params(2, 1)
    assert (p.act_row_cycles, p.act_latency) == (32, 38)
    assert _params(0, 0).act_dsps == 8 and _params(2, 0).act_dsps == 4 and p.act_dsps == 0
