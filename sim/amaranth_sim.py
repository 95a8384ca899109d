"""One scaffold for the unit tests that run a component in Amaranth's simulator.

    run(dut, tb)                         one clock, testbenches, a cycle limit
    await wait_until(ctx, dut.done)      tick until a signal (or a callable) is true
    await stream_put(ctx, dut.w, item)   valid/ready handshakes (lib.stream)
    item = await stream_get(ctx, dut.r)
    HostBus(ctx, dut.bus)                the host bus of a unit, as the host link drives it

Waveforms: with EIEGEN_WAVES=<folder> in the environment every run writes
<folder>/<test name>.vcd (the pytest test's name when there is one), so a
failing test can be looked at with `EIEGEN_WAVES=build/waves pytest -k ...`.
"""

import os
import re
from contextlib import nullcontext
from pathlib import Path

from amaranth.sim import Simulator

from ..hw.common.hostbus import ADDR_SETUP

__all__ = ["run", "wait_until", "stream_put", "stream_get", "HostBus", "SimulationTimeout",
           "DEFAULT_TIMEOUT"]

#: clock cycles a run may take before it is stopped as hung
DEFAULT_TIMEOUT = 1_000_000

PERIOD = 1e-6


class SimulationTimeout(AssertionError):
    pass


def _waves_path(name):
    folder = os.environ.get("EIEGEN_WAVES")
    if not folder:
        return None
    if name is None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "amaranth_sim").split(" ")[0]
        name = test.split("::")[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"{name}.vcd"


def run(dut, *testbenches, processes=(), clock=True, timeout=DEFAULT_TIMEOUT, name=None):
    """Simulate `dut` with one sync clock (unless clock=False) and the given
    async testbenches (ctx -> None) and processes. Fails with SimulationTimeout
    when the testbenches have not finished after `timeout` cycles."""
    sim = Simulator(dut)
    if clock:
        sim.add_clock(PERIOD)
    for tb in testbenches:
        sim.add_testbench(tb)
    for proc in processes:
        sim.add_process(proc)
    if clock and timeout:
        # a background process: the run ends when the testbenches do, or this
        # watchdog fails it (Simulator.run_until always runs to its deadline)
        async def watchdog(ctx):
            for _ in range(timeout):
                await ctx.tick()
            raise SimulationTimeout(f"the testbenches did not finish within {timeout} cycles")
        sim.add_process(watchdog)
    waves = _waves_path(name)
    ctx = sim.write_vcd(str(waves)) if waves else nullcontext()
    with ctx:
        sim.run()


async def wait_until(ctx, cond, *, timeout=100_000):
    """Tick until `cond` (a signal, or a callable of ctx) is true; returns the
    number of ticks waited."""
    check = cond if callable(cond) else (lambda c: c.get(cond))
    n = 0
    while not check(ctx):
        await ctx.tick()
        n += 1
        if n > timeout:
            raise SimulationTimeout(f"condition not true within {timeout} cycles")
    return n


async def stream_put(ctx, stream, payload, *, timeout=100_000):
    """Offer `payload` on a lib.stream interface (as its producer) until the
    consumer takes it."""
    ctx.set(stream.payload, payload)
    ctx.set(stream.valid, 1)
    n = 0
    while True:
        _, _, ready = await ctx.tick().sample(stream.ready)
        if ready:
            break
        n += 1
        if n > timeout:
            raise SimulationTimeout(f"stream payload not taken within {timeout} cycles")
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream, *, timeout=100_000):
    """Take one payload from a lib.stream interface (as its consumer)."""
    ctx.set(stream.ready, 1)
    n = 0
    while True:
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if valid:
            break
        n += 1
        if n > timeout:
            raise SimulationTimeout(f"no stream payload within {timeout} cycles")
    ctx.set(stream.ready, 0)
    return payload


class HostBus:
    """The host bus of a unit (hw/common/hostbus.py) driven from a testbench the
    way the host link drives it: registered requests; `addr` presented for two
    cycles before the cycle of `we` or `re` (and held through it); addr_ok and
    word_bytes sampled on the second cycle the address is stable; one read in
    flight, its answer awaited up to `read_timeout` cycles; a read two or
    more cycles after a write.

    Timing: a request to a new address takes 3 cycles (two of address, the
    request's); one to the address of the request before it, 1 (the address
    has been stable since), or 2 for a read right after a write.
    """

    def __init__(self, ctx, bus, *, read_timeout=255):
        self.ctx, self.bus, self.read_timeout = ctx, bus, read_timeout
        self.cycles = 0
        self._addr = None           # the address on the bus ...
        self._stable = 0            # ... and the cycles it has been there
        self._since_write = 2       # cycles since the last write's cycle of `we`

    async def tick(self):
        await self.ctx.tick()
        self.cycles += 1
        self._stable += 1
        self._since_write += 1

    async def _present(self, addr, cycles):
        """Put `addr` on the bus and tick until it has been there `cycles` cycles."""
        addr = int(addr)
        if addr != self._addr:
            self.ctx.set(self.bus.addr, addr)
            self._addr, self._stable = addr, 0
        while self._stable < cycles:
            await self.tick()

    async def probe(self, addr):
        """(addr_ok, word_bytes) of `addr`, sampled on the second cycle it is stable."""
        ctx, bus = self.ctx, self.bus
        await self._present(addr, 1)
        return ctx.get(bus.addr_ok), ctx.get(bus.word_bytes)

    async def write(self, addr, data):
        ctx, bus = self.ctx, self.bus
        await self._present(addr, ADDR_SETUP)
        ctx.set(bus.wdata, int(data) & ((1 << len(bus.wdata)) - 1))
        ctx.set(bus.we, 1)
        await self.tick()
        ctx.set(bus.we, 0)
        self._since_write = 1

    async def write_many(self, addrs, datas):
        for a, d in zip(addrs, datas):
            await self.write(a, d)

    async def read(self, addr):
        ctx, bus = self.ctx, self.bus
        await self._present(addr, ADDR_SETUP)
        while self._since_write < 2:
            await self.tick()
        ctx.set(bus.re, 1)
        await self.tick()
        ctx.set(bus.re, 0)
        for _ in range(self.read_timeout):
            if ctx.get(bus.rvalid):
                data = ctx.get(bus.rdata)
                await self.tick()
                return data
            await self.tick()
        raise SimulationTimeout(f"no read answer for address {int(addr):#010x}")

    async def read_many(self, addrs):
        return [await self.read(a) for a in addrs]
