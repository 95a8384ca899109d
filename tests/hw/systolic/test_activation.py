"""ActivationUnit: ReLU and requantisation corner cases against the golden
model, and its pipeline timing (read at e, write at e + 3)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.activation import ActivationUnit
from eiegen.sim.systolic_golden import requantize


def _run(p, accs, mult, shift, relu, wait=0):
    """Feed the rows `accs` (n, C) as accumulator rows 0..n-1 through one ACT;
    returns (written rows by ub address, write cycles, first read cycle)."""
    dut = ActivationUnit(p)
    n = len(accs)
    writes = {}
    reads = []

    async def tb(ctx):
        ctx.set(dut.start, 1)
        for k, v in (("acc_addr", 0), ("ub_addr", 100), ("count", n), ("relu", int(relu)),
                     ("mult", mult), ("shift", shift), ("wait", wait)):
            ctx.set(getattr(dut, k), v)
        await ctx.tick()                     # dispatch at cycle 0
        ctx.set(dut.start, 0)
        addr_q = None
        for t in range(1, n + wait + 8):
            # the memory answers one cycle after the address
            if addr_q is not None:
                ctx.set(dut.acc_rdata, [int(v) for v in accs[addr_q]])
            if ctx.get(dut.ub_we):
                writes[ctx.get(dut.ub_waddr)] = (t, [ctx.get(dut.ub_wdata[c]) for c in range(p.cols)])
            busy = ctx.get(dut.busy)
            raddr = ctx.get(dut.acc_raddr)
            reading = busy and len(reads) < n and t >= 1 + wait
            if reading:
                reads.append(t)
            addr_q = raddr if reading else None
            await ctx.tick()
        assert not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return writes, reads


def _check(p, accs, mult, shift, relu, wait=0):
    writes, reads = _run(p, accs, mult, shift, relu, wait)
    want = requantize(np.asarray(accs), mult, shift, relu, p.in_width)
    assert sorted(writes) == list(range(100, 100 + len(accs)))
    for i in range(len(accs)):
        t, row = writes[100 + i]
        assert t == reads[0] + i + 3, "write three cycles after the read"
        assert row == list(want[i]), (i, accs[i], row, list(want[i]))
    return writes


def test_saturation_both_ends_and_relu():
    p = SystolicParams(rows=2, cols=4)
    accs = [[2 ** 31 - 1, -2 ** 31, 1000, -1000],
            [128, -129, 127, -128],
            [255, -256, 0, -1]]
    _check(p, accs, mult=1, shift=0, relu=False)
    w = _check(p, accs, mult=1, shift=0, relu=True)
    assert w[100][1] == [127, 0, 127, 0]
    _check(p, accs, mult=65535, shift=0, relu=False)     # huge products saturate
    _check(p, accs, mult=65535, shift=47, relu=False)    # the largest shift


def test_rounding_of_halves_is_half_up():
    p = SystolicParams(rows=1, cols=4)
    # x / 2 for shift 1: 5/2 = 2.5 -> 3, -5/2 = -2.5 -> -2, 3/2 -> 2, -3/2 -> -1
    w = _check(p, [[5, -5, 3, -3], [1, -1, 7, -7]], mult=1, shift=1, relu=False)
    assert w[100][1] == [3, -2, 2, -1]
    assert w[101][1] == [1, 0, 4, -3]
    # x * 3 / 8: 4*3/8 = 1.5 -> 2; -4*3/8 = -1.5 -> -1; 12*3/8 = 4.5 -> 5
    w = _check(p, [[4, -4, 12, -12]], mult=3, shift=3, relu=False)
    assert w[100][1] == [2, -1, 5, -4]


@pytest.mark.parametrize("mult_width,acc_width", [(16, 32), (32, 32), (8, 24), (1, 16)])
def test_random_against_golden(mult_width, acc_width):
    p = SystolicParams(rows=2, cols=3, mult_width=mult_width, acc_width=acc_width)
    rng = np.random.default_rng(mult_width + acc_width)
    accs = rng.integers(-2 ** (acc_width - 1), 2 ** (acc_width - 1), (6, 3))
    for _ in range(3):
        mult = int(rng.integers(1, 2 ** mult_width))
        shift = int(rng.integers(0, p.max_shift + 1))
        _check(p, accs, mult, shift, relu=bool(rng.integers(2)))


def test_waits_before_reading():
    p = SystolicParams(rows=3, cols=2)
    writes, reads = _run(p, [[1, 2], [3, 4]], mult=1, shift=0, relu=False, wait=5)
    assert reads[0] == 1 + 5
