"""hw/eie/weight_decoder.py: v -> codebook[v], combinational, with the
shared codebook (an input register) and with the per-PE codebook memory
written through cb_we / cb_index / cb_data during SETUP."""

import numpy as np

from eiegen.hw.eie.weight_decoder import WeightDecoder
from eiegen.sim.amaranth_sim import run


def _codebooks(seed, n):
    rng = np.random.default_rng(seed)
    books = [np.concatenate([[0], rng.integers(-32768, 32768, 15)]) for _ in range(n)]
    books[0][1:3] = (-32768, 32767)                  # the int16 extremes
    return [[int(x) for x in b] for b in books]


def test_shared_codebook():
    dut = WeightDecoder(shared=True)

    async def tb(ctx):
        for book in _codebooks(1, 4):
            ctx.set(dut.codebook, book)
            for v in range(16):
                ctx.set(dut.v, v)
                assert ctx.get(dut.w) == book[v], (v, book)      # same cycle

    run(dut, tb, clock=False)


def test_per_pe_codebook_memory():
    dut = WeightDecoder(shared=False)

    async def tb(ctx):
        for book in _codebooks(2, 4):
            # SETUP: one write a cycle, in a scrambled order
            for i in np.random.default_rng(book[3] & 0xFF).permutation(16):
                ctx.set(dut.cb_we, 1)
                ctx.set(dut.cb_index, int(i))
                ctx.set(dut.cb_data, book[i])
                await ctx.tick()
            ctx.set(dut.cb_we, 0)
            ctx.set(dut.cb_data, 12345)              # not written: cb_we is low
            for v in range(16):
                ctx.set(dut.v, v)
                assert ctx.get(dut.w) == book[v], (v, book)
                await ctx.tick()

    run(dut, tb)


def test_per_pe_write_takes_effect_the_next_cycle():
    dut = WeightDecoder(shared=False)

    async def tb(ctx):
        ctx.set(dut.v, 5)
        ctx.set(dut.cb_we, 1)
        ctx.set(dut.cb_index, 5)
        ctx.set(dut.cb_data, -77)
        await ctx.tick()
        ctx.set(dut.cb_we, 0)
        assert ctx.get(dut.w) == -77
        ctx.set(dut.cb_we, 1)
        ctx.set(dut.cb_data, 99)
        assert ctx.get(dut.w) == -77                 # not yet
        await ctx.tick()
        ctx.set(dut.cb_we, 0)
        assert ctx.get(dut.w) == 99

    run(dut, tb)
