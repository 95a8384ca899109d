"""The whole SystolicUnit in the Amaranth simulator, driven over its host bus
by the shared driver (sim/amaranth_sim.py HostBus) with the unit's memory
layout (sw/systolic/busmap.py) on top."""

import pytest

from eiegen.hw.systolic.lane_memory import LaneMemory
from eiegen.hw.systolic.top import SystolicUnit
from eiegen.sim.amaranth_sim import HostBus, run, wait_until
from eiegen.sw.systolic import busmap

@pytest.fixture(autouse=True)
def collision_model(monkeypatch):
    """Every test here simulates the memories without a read-during-write
    check (the accumulators) pessimistically: a read of the row written in
    its cycle returns garbage (LaneMemory.collision_model)."""
    monkeypatch.setattr(LaneMemory, "collision_model", True)


#: bit 1 of the control register: resume after RHM/WHM (hw/systolic/params.py REGS)
RESUME = 1 << 1


class UnitBus(HostBus):
    """HostBus of one SystolicUnit, plus its memories as rows, its registers
    by name, and the start/done/waiting ports."""

    def __init__(self, ctx, unit):
        super().__init__(ctx, unit.dut.bus)
        self.unit, self.dut, self.params = unit, unit.dut, unit.params

    async def write_rows(self, mem, base, rows):
        await self.write_many(*busmap.write_words(self.params, mem, base, rows))

    async def read_rows(self, mem, base, n):
        words = await self.read_many(busmap.read_addrs(self.params, mem, base, n))
        return busmap.decode_words(self.params, mem, words, n)

    async def reg(self, name):
        return await self.read(busmap.reg_addr(name))

    async def resume(self):
        await self.write(busmap.reg_addr("ctrl"), RESUME)

    async def start(self):
        self.ctx.set(self.dut.start, 1)
        await self.tick()
        self.ctx.set(self.dut.start, 0)

    async def wait(self, max_cycles=200_000):
        """Tick until done or waiting; returns the cycles waited."""
        dut = self.dut
        n = await wait_until(self.ctx, lambda c: c.get(dut.done) or c.get(dut.waiting),
                             timeout=max_cycles)
        self.cycles += n
        return n


class UnitSim:
    """Runs one testbench `script(bus)` (bus: UnitBus) against a fresh
    SystolicUnit. With `watch` (dut -> {name: signal}) the signals are
    recorded at every clock edge into `trace`, one dict per cycle."""

    def __init__(self, params):
        self.params = params
        self.dut = SystolicUnit(params)
        self.trace = []

    def run(self, script, watch=None):
        processes = []
        if watch is not None:
            async def record(ctx):
                signals = watch(self.dut)     # after elaboration: submodules exist
                async for _, _, *values in ctx.tick().sample(*signals.values()):
                    self.trace.append(dict(zip(signals, values)))
            processes.append(record)

        async def tb(ctx):
            await script(UnitBus(ctx, self))

        run(self.dut, tb, processes=processes)


def run_compiled(params, compiled, x, watch=None):
    """Load, start, wait, read back; returns (output, counters dict, status, trace)."""
    unit = UnitSim(params)
    out = {}

    async def script(bus):
        for mem, base, rows in compiled.memory_writes(x):
            await bus.write_rows(mem, base, rows)
        await bus.start()
        await bus.wait()
        for step in compiled.host_steps or []:       # RHM between layers: the host's gather
            assert bus.ctx.get(unit.dut.waiting)
            src = await bus.read_rows("ub", step.src.base, step.src.rows)
            await bus.write_rows("ub", step.dst.base, step.apply(src, params.ub_lanes))
            await bus.resume()
            await bus.tick()
            await bus.wait()
        mem, base, n = compiled.output_read()
        out["y"] = compiled.unpack_output(await bus.read_rows(mem, base, n))
        out["counters"] = {c: await bus.reg(c) for c in
                           ("cycles", "mac_active", "stall", "weight_stall", "instructions")}
        out["status"] = await bus.reg("ctrl")

    unit.run(script, watch)
    return out["y"], out["counters"], out["status"], unit.trace


@pytest.fixture
def unit_sim():
    return UnitSim


@pytest.fixture
def run_unit():
    return run_compiled
