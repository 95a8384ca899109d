# amaranth: UnusedElaboratable=no
"""hw/common/spram.py: the SPRAM wrapper on the behavioural SB_SPRAM256KA model
(Amaranth simulator): one cycle of read latency, lanes side by side for wide
words, banks for deep memories, and the block count the board check uses."""

import random

import pytest

from eiegen.hw.common.spram import SPRAM, spram_blocks, SPRAM_WORDS
from eiegen.sim.amaranth_sim import run


async def write(ctx, dut, addr, data):
    ctx.set(dut.we, 1)
    ctx.set(dut.waddr, addr)
    ctx.set(dut.wdata, data)
    await ctx.tick()
    ctx.set(dut.we, 0)


async def read(ctx, dut, addr):
    ctx.set(dut.raddr, addr)
    await ctx.tick()
    return ctx.get(dut.rdata)


@pytest.mark.parametrize("width, depth, blocks", [(16, 16384, 1), (8, 100, 1), (17, 16384, 2),
                                                  (16, 16385, 2), (32, 32768, 4), (64, 2048, 4)])
def test_block_count(width, depth, blocks):
    assert spram_blocks(width, depth) == blocks
    assert SPRAM(width=width, depth=depth).blocks == blocks


def test_single_block_write_read_latency():
    dut = SPRAM(width=16, depth=SPRAM_WORDS)
    rng = random.Random(1)
    data = {a: rng.getrandbits(16) for a in rng.sample(range(SPRAM_WORDS), 40)}

    async def tb(ctx):
        for a, d in data.items():
            await write(ctx, dut, a, d)
        for a, d in data.items():
            before = ctx.get(dut.rdata)
            ctx.set(dut.raddr, a)
            assert ctx.get(dut.rdata) == before          # registered output
            await ctx.tick()
            assert ctx.get(dut.rdata) == d, hex(a)
        # overwrite one word, read back the new value
        a = next(iter(data))
        await write(ctx, dut, a, 0xA5A5)
        assert await read(ctx, dut, a) == 0xA5A5
    run(dut, tb)


def test_wide_words_use_lanes():
    dut = SPRAM(width=40, depth=64)
    assert dut.blocks == 3

    async def tb(ctx):
        words = [(0x12_3456_789A * (i + 3)) & ((1 << 40) - 1) for i in range(10)]
        for i, w in enumerate(words):
            await write(ctx, dut, i, w)
        for i, w in enumerate(words):
            assert await read(ctx, dut, i) == w
    run(dut, tb)


def test_deep_memory_uses_banks():
    depth = SPRAM_WORDS + 300
    dut = SPRAM(width=8, depth=depth)
    assert dut.blocks == 2
    pairs = [(0, 0x11), (5, 0x22), (SPRAM_WORDS - 1, 0x33), (SPRAM_WORDS, 0x44),
             (SPRAM_WORDS + 5, 0x55), (depth - 1, 0x66)]

    async def tb(ctx):
        for a, d in pairs:
            await write(ctx, dut, a, d)
        # bank 1 at the same low address as bank 0 holds its own word
        assert await read(ctx, dut, 5) == 0x22
        assert await read(ctx, dut, SPRAM_WORDS + 5) == 0x55
        # alternate banks on consecutive cycles: the output follows the address of the previous cycle
        for a, d in pairs + pairs[::-1]:
            assert await read(ctx, dut, a) == d, a
    run(dut, tb)


@pytest.mark.parametrize("width, depth", [(0, 4), (8, 0)])
def test_bad_geometry_is_refused(width, depth):
    with pytest.raises(ValueError, match="positive"):
        SPRAM(width=width, depth=depth, name="x")
