"""sim/amaranth_sim.py: a run ends when its testbenches do, a hung one fails
after `timeout` cycles, and the stream helpers hand items over."""

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO

from eiegen.sim.amaranth_sim import run, wait_until, stream_put, stream_get, SimulationTimeout


def _counter():
    m = Module()
    m.count = Signal(16)
    m.d.sync += m.count.eq(m.count + 1)
    return m


def test_run_ends_with_the_testbench():
    dut = _counter()
    ticks = []

    async def tb(ctx):
        for _ in range(10):
            await ctx.tick()
        ticks.append(ctx.get(dut.count))

    run(dut, tb, timeout=1000)
    assert ticks == [10]


def test_hung_testbench_times_out():
    dut = _counter()

    async def tb(ctx):
        await wait_until(ctx, lambda c: False, timeout=10_000)

    with pytest.raises(SimulationTimeout, match="within 50 cycles"):
        run(dut, tb, timeout=50)


def test_stream_put_get_keep_order():
    fifo = SyncFIFO(width=8, depth=3)
    got = []

    async def producer(ctx):
        for v in range(20):
            await stream_put(ctx, fifo.w_stream, v)

    async def consumer(ctx):
        for i in range(20):
            for _ in range(i % 3):
                await ctx.tick()
            got.append(await stream_get(ctx, fifo.r_stream))

    run(fifo, producer, consumer, timeout=1000)
    assert got == list(range(20))
