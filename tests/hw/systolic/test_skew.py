"""Skew and Deskew: lane i delayed by i (resp. lanes - 1 - i) cycles."""

import pytest
from amaranth import signed
from eiegen.hw.systolic.skew import Skew
from eiegen.hw.systolic.deskew import Deskew
from eiegen.sim.amaranth_sim import run


@pytest.mark.parametrize("cls,lanes", [(Skew, 2), (Skew, 5), (Deskew, 2), (Deskew, 4)])
def test_lane_delays(cls, lanes):
    dut = cls(lanes, signed(8))
    seen = {lane: [] for lane in range(lanes)}
    T = 3 * lanes + 4

    async def tb(ctx):
        for t in range(T):
            # lane i carries 10 * i + t at cycle t (distinct per lane and cycle)
            ctx.set(dut.i, [(10 * i + t) % 100 for i in range(lanes)])
            for lane in range(lanes):
                seen[lane].append(ctx.get(dut.o[lane]))
            await ctx.tick()

    run(dut, tb)
    for lane in range(lanes):
        delay = lane if cls is Skew else lanes - 1 - lane
        for t in range(delay, T):
            assert seen[lane][t] == (10 * lane + t - delay) % 100, (lane, t)


@pytest.mark.parametrize("cls", [Skew, Deskew])
def test_one_lane_passes_straight_through(cls):
    dut = cls(1, signed(8))

    async def tb(ctx):
        for v in (5, -128, 127):
            ctx.set(dut.i, [v])
            assert ctx.get(dut.o[0]) == v

    run(dut, tb, clock=False)
