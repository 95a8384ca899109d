"""hw/eie/act_rw.py: one data memory holding both activation files and the
bias words (data_layout), read by the prefetch (source file), the bias
preload and the host, written by the write-back (destination file) and the
host; read data `mem_latency` cycles after the request. Checked against a
dict per region."""

import random

import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.act_rw import ActivationReadWrite, data_layout
from eiegen.sim.amaranth_sim import run

REGION = {"act0": 0, "act1": 1, "bias": 2}


def params(act_depth, mem_latency):
    return EIEParams(n_pes=2, act_depth=act_depth, bias_depth=24, spmat_depth=64, ptr_depth=64,
                     mem_latency=mem_latency)


def test_data_layout():
    assert data_layout(params(64, 1)) == (64, 128, 152)
    assert data_layout(params(40, 1)) == (64, 128, 152)    # files at power-of-two strides
    assert data_layout(params(1, 1)) == (1, 2, 26)


async def _read(ctx, dut, lat, setup):
    """Issue one read (setup(ctx) sets the request), return rdata `lat` cycles later."""
    setup(ctx)
    await ctx.tick()
    ctx.set(dut.pf_valid, 0)
    ctx.set(dut.init_valid, 0)
    for _ in range(lat - 1):
        await ctx.tick()
    return ctx.get(dut.rdata)


# bias_depth 24: behind files of 64 or 128 words the bias address is a bit set
# above the index; behind files of 8 words (act_depth 6) it takes an adder
@pytest.mark.parametrize("act_depth", [6, 40, 64])
@pytest.mark.parametrize("lat", [1, 2])
def test_files_swap_and_bias(act_depth, lat):
    p = params(act_depth, lat)
    dut = ActivationReadWrite(p)
    rng = random.Random(act_depth + lat)
    mem = {r: {} for r in REGION}
    for r, depth in (("act0", act_depth), ("act1", act_depth), ("bias", p.bias_depth)):
        for a in range(depth):
            mem[r][a] = rng.randrange(-32768, 32768)

    async def tb(ctx):
        # host writes every word of the three regions (one a cycle)
        ctx.set(dut.host_mode, 1)
        for r, words in mem.items():
            for a, v in words.items():
                ctx.set(dut.host_region, REGION[r])
                ctx.set(dut.host_addr, a)
                ctx.set(dut.host_wdata, v & 0xFFFF)
                ctx.set(dut.host_we, 1)
                await ctx.tick()
        ctx.set(dut.host_we, 0)
        # host reads them back, pipelined: request at t, rdata at t + lat
        reqs = [(r, a) for r in mem for a in mem[r]]
        got = []
        for i in range(len(reqs) + lat):
            if i < len(reqs):
                ctx.set(dut.host_region, REGION[reqs[i][0]])
                ctx.set(dut.host_addr, reqs[i][1])
            if i >= lat:
                got.append(ctx.get(dut.rdata))
            await ctx.tick()
        assert got == [mem[r][a] for r, a in reqs]
        ctx.set(dut.host_mode, 0)
        for src in (0, 1):
            ctx.set(dut.src_sel, src)
            src_r, dst_r = ("act0", "act1")[src], ("act0", "act1")[1 - src]
            # prefetch of the source file, one a cycle
            ks = [rng.randrange(act_depth) for _ in range(30)]
            got = []
            for i in range(len(ks) + lat):
                ctx.set(dut.pf_valid, i < len(ks))
                ctx.set(dut.pf_k, ks[i] if i < len(ks) else 0)
                if i >= lat:
                    got.append(ctx.get(dut.rdata))
                await ctx.tick()
            ctx.set(dut.pf_valid, 0)
            assert got == [mem[src_r][k] for k in ks], src
            # bias preload: word bias_base + k
            base = rng.randrange(p.bias_depth - 8)
            ctx.set(dut.bias_base, base)
            got = []
            for i in range(8 + lat):
                ctx.set(dut.init_valid, i < 8)
                ctx.set(dut.init_k, i % 8)
                if i >= lat:
                    got.append(ctx.get(dut.rdata))
                await ctx.tick()
            ctx.set(dut.init_valid, 0)
            assert got == [mem["bias"][base + k] for k in range(8)]
            # write-back into the destination file only
            for k in range(act_depth):
                v = rng.randrange(-32768, 32768)
                ctx.set(dut.wb_valid, 1)
                ctx.set(dut.wb_k, k)
                ctx.set(dut.wb_value, v)
                mem[dst_r][k] = v
                await ctx.tick()
            ctx.set(dut.wb_valid, 0)
        # every region, through the host again: the write-backs landed in the
        # destination files only, the bias words untouched
        ctx.set(dut.host_mode, 1)
        for r in mem:
            for a, v in mem[r].items():
                got = await _read(ctx, dut, lat, lambda c: (c.set(dut.host_region, REGION[r]),
                                                             c.set(dut.host_addr, a)))
                assert got == v, (r, a)

    run(dut, tb)


def test_host_write_taken_after_host_mode_and_wb_ignored_in_it():
    # the PE takes host writes only in host mode (its decode) and may deliver the last
    # one a cycle after host mode ends (its host register): the unit takes it then too
    p = params(8, 1)
    dut = ActivationReadWrite(p)

    async def tb(ctx):
        ctx.set(dut.host_mode, 1)
        for r in REGION.values():
            ctx.set(dut.host_region, r)
            ctx.set(dut.host_addr, 3)
            ctx.set(dut.host_wdata, 100 + r)
            ctx.set(dut.host_we, 1)
            await ctx.tick()
        ctx.set(dut.host_we, 0)
        # a write-back while the host owns the memory does nothing
        ctx.set(dut.src_sel, 0)
        ctx.set(dut.wb_valid, 1)
        ctx.set(dut.wb_k, 3)
        ctx.set(dut.wb_value, -1)
        await ctx.tick()
        ctx.set(dut.wb_valid, 0)
        # a host write delivered just after host mode ended is taken
        ctx.set(dut.host_mode, 0)
        ctx.set(dut.host_region, REGION["act0"])
        ctx.set(dut.host_addr, 5)
        ctx.set(dut.host_we, 1)
        ctx.set(dut.host_wdata, 7)
        await ctx.tick()
        ctx.set(dut.host_we, 0)
        ctx.set(dut.host_mode, 1)
        for r in REGION.values():
            got = await _read(ctx, dut, 1, lambda c: (c.set(dut.host_region, r), c.set(dut.host_addr, 3)))
            assert got == 100 + r
        got = await _read(ctx, dut, 1, lambda c: (c.set(dut.host_region, REGION["act0"]),
                                                   c.set(dut.host_addr, 5)))
        assert got == 7

    run(dut, tb)
