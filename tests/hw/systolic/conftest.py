"""Amaranth-simulator driver of the whole SystolicUnit over its host bus."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from eiegen.hw.systolic.top import SystolicUnit
from eiegen.sw.systolic import busmap


class UnitSim:
    """Runs one testbench `script(bus)` against a fresh SystolicUnit; the
    script awaits bus.write/read/start/wait_done and may record signals."""

    def __init__(self, params):
        self.params = params
        self.dut = SystolicUnit(params)
        self.trace = []

    def run(self, script, watch=None):
        dut = self.dut
        sim = Simulator(dut)
        sim.add_clock(1e-6)
        unit = self

        class Bus:
            def __init__(self, ctx):
                self.ctx = ctx
                self.cycle = 0

            async def tick(self):
                if watch is not None:
                    unit.trace.append({k: self.ctx.get(v) for k, v in watch(dut).items()})
                await self.ctx.tick()
                self.cycle += 1

            async def write(self, addr, data):
                ctx = self.ctx
                ctx.set(dut.bus.addr, int(addr))
                ctx.set(dut.bus.wdata, int(data))
                ctx.set(dut.bus.we, 1)
                await self.tick()
                ctx.set(dut.bus.we, 0)

            async def write_rows(self, mem, base, rows):
                a, d = busmap.write_words(unit.params, mem, base, rows)
                for ai, di in zip(a, d):
                    await self.write(ai, di)

            async def read(self, addr, timeout=16):
                ctx = self.ctx
                ctx.set(dut.bus.addr, int(addr))
                ctx.set(dut.bus.re, 1)
                await self.tick()
                ctx.set(dut.bus.re, 0)
                for _ in range(timeout):
                    if ctx.get(dut.bus.rvalid):
                        return ctx.get(dut.bus.rdata)
                    await self.tick()
                raise AssertionError(f"no rvalid within {timeout} cycles of a read")

            async def read_rows(self, mem, base, n):
                words = [await self.read(a) for a in busmap.read_addrs(unit.params, mem, base, n)]
                return busmap.decode_words(unit.params, mem, words, n)

            async def reg(self, name):
                return await self.read(busmap.reg_addr(name))

            async def addr_ok(self, addr):
                # registered by the unit: valid from the second cycle addr is stable
                self.ctx.set(dut.bus.addr, int(addr))
                await self.tick()
                return self.ctx.get(dut.bus.addr_ok), self.ctx.get(dut.bus.word_bytes)

            async def start(self):
                self.ctx.set(dut.start, 1)
                await self.tick()
                self.ctx.set(dut.start, 0)

            async def wait(self, max_cycles=200_000):
                n = 0
                while not (self.ctx.get(dut.done) or self.ctx.get(dut.waiting)):
                    await self.tick()
                    n += 1
                    assert n < max_cycles, "no done/waiting"
                return n

        async def tb(ctx):
            await script(Bus(ctx))

        sim.add_testbench(tb)
        sim.run()


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
            await bus.write(busmap.reg_addr("ctrl"), 2)
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
