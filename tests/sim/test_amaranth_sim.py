"""sim/amaranth_sim.py: a run ends when its testbenches do, a hung one fails
after `timeout` cycles, the stream helpers hand items over, and HostBus
drives the host bus as its contract says (hw/common/hostbus.py)."""

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from eiegen.hw.common.hostbus import HostBusSignature
from eiegen.sim.amaranth_sim import (run, wait_until, stream_put, stream_get, SimulationTimeout,
                                     HostBus)


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


class _ContractMonitor(wiring.Component):
    """A unit that counts the host-bus contract's violations by its initiator:
    `we` or `re` without `addr` stable the two cycles before (`setup`), a read
    the cycle after a write (`raw`), `we` and `re` together (`both`), a read
    while one is in flight (`overlap`). addr_ok and word_bytes are registered
    functions of addr; a read answers `latency` cycles later with a function
    of its address."""

    def __init__(self, latency):
        self.latency = latency
        super().__init__({"bus": In(HostBusSignature()), "setup": Out(8), "raw": Out(8),
                          "both": Out(8), "overlap": Out(8)})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        a1, a2, we1 = Signal(32), Signal(32), Signal()
        m.d.sync += [a1.eq(bus.addr), a2.eq(a1), we1.eq(bus.we)]
        m.d.sync += [bus.addr_ok.eq(bus.addr[0]), bus.word_bytes.eq(bus.addr[1:5])]
        req = bus.we | bus.re
        pending = Signal(range(self.latency + 1))
        rd = Signal(32)
        with m.If(bus.re):
            m.d.sync += [pending.eq(self.latency), rd.eq(bus.addr)]
        with m.Elif(pending != 0):
            m.d.sync += pending.eq(pending - 1)
        m.d.comb += [bus.rvalid.eq(pending == 1), bus.rdata.eq(rd ^ 0x5A5A)]
        for flag, cond in ((self.setup, req & ((a1 != bus.addr) | (a2 != bus.addr))),
                           (self.raw, bus.re & we1), (self.both, bus.we & bus.re),
                           (self.overlap, bus.re & (pending > 1))):
            with m.If(cond):
                m.d.sync += flag.eq(flag + 1)
        return m


@pytest.mark.parametrize("latency", [1, 3])
def test_host_bus_driver_follows_the_contract(latency):
    dut = _ContractMonitor(latency)
    seen = {}

    async def tb(ctx):
        bus = HostBus(ctx, dut.bus)
        seen["probe"] = [await bus.probe(a) for a in (0x21, 0x40, 0x40, 0x1F)]
        await bus.write(0x100, 1)
        await bus.write(0x101, 2)
        seen["read"] = await bus.read(0x101)        # the address of the write before
        await bus.write_many([0x200, 0x200, 0x300], [1, 2, 3])
        seen["many"] = await bus.read_many([0x300, 0x7, 0x7])
        await bus.write(0x7, 1)
        seen["after_write"] = await bus.read(0x7)
        for _ in range(3):
            await ctx.tick()
        seen["violations"] = {f: ctx.get(getattr(dut, f)) for f in ("setup", "raw", "both", "overlap")}

    run(dut, tb, timeout=1000)
    assert seen["violations"] == {"setup": 0, "raw": 0, "both": 0, "overlap": 0}
    assert seen["probe"] == [(1, 0), (0, 0), (0, 0), (1, 0xF)]
    assert seen["read"] == 0x101 ^ 0x5A5A
    assert seen["many"] == [0x300 ^ 0x5A5A, 0x7 ^ 0x5A5A, 0x7 ^ 0x5A5A]
    assert seen["after_write"] == 0x7 ^ 0x5A5A
