"""hw/eie/weight_decoder.py: every PE's codebook memory, written through
cb_we / cb_index / cb_data during SETUP; v at t -> w = codebook[v] at t + 1
(a synchronous read: the multiplier's input register)."""

import numpy as np

from eiegen.hw.eie.weight_decoder import WeightDecoder
from eiegen.sim.amaranth_sim import run


def _codebooks(seed, n):
    rng = np.random.default_rng(seed)
    books = [np.concatenate([[0], rng.integers(-32768, 32768, 15)]) for _ in range(n)]
    books[0][1:3] = (-32768, 32767)                  # the int16 extremes
    return [[int(x) for x in b] for b in books]


def test_codebook_memory_and_read_latency():
    dut = WeightDecoder()
    rng = np.random.default_rng(5)

    async def tb(ctx):
        for book in _codebooks(2, 4):
            # SETUP: one write a cycle, in a scrambled order
            for i in rng.permutation(16):
                ctx.set(dut.cb_we, 1)
                ctx.set(dut.cb_index, int(i))
                ctx.set(dut.cb_data, book[i])
                await ctx.tick()
            ctx.set(dut.cb_we, 0)
            ctx.set(dut.cb_data, 12345)              # not written: cb_we is low
            # one index a cycle, the weight the next cycle
            vs = [int(v) for v in rng.integers(0, 16, 40)] + list(range(16))
            got = []
            for t in range(len(vs) + 1):
                if t < len(vs):
                    ctx.set(dut.v, vs[t])
                await ctx.tick()
                if t < len(vs):
                    got.append(ctx.get(dut.w))
            assert got == [book[v] for v in vs], book

    run(dut, tb)


def test_write_then_read():
    dut = WeightDecoder()

    async def tb(ctx):
        ctx.set(dut.cb_we, 1)
        ctx.set(dut.cb_index, 5)
        ctx.set(dut.cb_data, -77)
        await ctx.tick()
        ctx.set(dut.cb_we, 0)
        ctx.set(dut.v, 5)
        await ctx.tick()
        assert ctx.get(dut.w) == -77

    run(dut, tb)
