"""hw/eie/act_rw.py: two activation files with non-zero flags; reads of the
source file with one cycle of latency; write-back into the other file."""

import random

import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.act_rw import ActivationReadWrite

P = EIEParams(act_depth=16, spmat_depth=64)


def run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def _flags(values):
    return sum(1 << k for k, v in enumerate(values) if v != 0)


async def host_write(ctx, dut, f, k, value):
    ctx.set(dut.host_we, 1)
    ctx.set(dut.host_file, f)
    ctx.set(dut.host_k, k)
    ctx.set(dut.host_wdata, value)
    await ctx.tick()
    ctx.set(dut.host_we, 0)


async def read_file(ctx, dut, src_sel):
    """Read every word of the source file through raddr (latency 1)."""
    ctx.set(dut.src_sel, src_sel)
    out = []
    for k in range(P.act_depth):
        ctx.set(dut.raddr, k)
        await ctx.tick()
        out.append(ctx.get(dut.src_value))
        assert ctx.get(dut.rdata1 if src_sel else dut.rdata0) == out[-1]
    return out


def test_flags_follow_host_writes_and_zero_clears():
    dut = ActivationReadWrite(P)
    rng = random.Random(1)
    files = [[0] * P.act_depth, [0] * P.act_depth]

    async def tb(ctx):
        for src in (0, 1):
            ctx.set(dut.src_sel, src)
            assert ctx.get(dut.flags) == 0
        for _ in range(120):
            f = rng.randrange(2)
            k = rng.randrange(P.act_depth)
            v = rng.choice([0, 0, -32768, 32767, -1, rng.randrange(-32768, 32768)])
            await host_write(ctx, dut, f, k, v)
            files[f][k] = v
            for src in (0, 1):                     # flags show the selected source file
                ctx.set(dut.src_sel, src)
                assert ctx.get(dut.flags) == _flags(files[src])
        for src in (0, 1):
            assert await read_file(ctx, dut, src) == files[src]
    run(dut, tb)


def test_read_latency_one_cycle():
    dut = ActivationReadWrite(P)

    async def tb(ctx):
        for k in range(P.act_depth):
            await host_write(ctx, dut, 0, k, 100 + k)
            await host_write(ctx, dut, 1, k, -100 - k)
        ctx.set(dut.raddr, 3)
        await ctx.tick()
        assert (ctx.get(dut.src_value), ctx.get(dut.rdata0), ctx.get(dut.rdata1)) == (103, 103, -103)
        ctx.set(dut.raddr, 9)
        ctx.set(dut.src_sel, 1)
        # neither the new address nor the new source shows before the edge
        assert ctx.get(dut.src_value) == 103
        await ctx.tick()
        assert ctx.get(dut.src_value) == -109
    run(dut, tb)


@pytest.mark.parametrize("src_sel", [0, 1])
def test_writeback_goes_to_the_other_file(src_sel):
    dut = ActivationReadWrite(P)
    rng = random.Random(src_sel)
    files = [[rng.randrange(-9, 9) for _ in range(P.act_depth)] for _ in range(2)]
    out = [rng.choice([0, 0, 5, -7, 32767]) for _ in range(P.act_depth)]

    async def tb(ctx):
        for f in (0, 1):
            for k, v in enumerate(files[f]):
                await host_write(ctx, dut, f, k, v)
        ctx.set(dut.src_sel, src_sel)
        src_flags = ctx.get(dut.flags)
        for k in rng.sample(range(P.act_depth), P.act_depth):
            ctx.set(dut.wb_valid, 1)
            ctx.set(dut.wb_k, k)
            ctx.set(dut.wb_value, out[k])
            await ctx.tick()
            assert ctx.get(dut.flags) == src_flags          # the source is untouched
        ctx.set(dut.wb_valid, 0)
        dest = 1 - src_sel
        assert await read_file(ctx, dut, src_sel) == files[src_sel]
        # swap (ping-pong): the written file is the next layer's source, flags included
        ctx.set(dut.src_sel, dest)
        assert ctx.get(dut.flags) == _flags(out)
        assert await read_file(ctx, dut, dest) == out
    run(dut, tb)
