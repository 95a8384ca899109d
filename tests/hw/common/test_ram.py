# amaranth: UnusedElaboratable=no
"""hw/common/ram.py in the Amaranth simulator: one cycle of read latency,
old data on a read/write collision (read-before-write), `init` contents."""

import pytest

from eiegen.hw.common.ram import RAM
from eiegen.sim.amaranth_sim import run


def test_init_contents_and_read_latency():
    init = [0x1234, 0xBEEF, 7, 0, 0xFFFF, 42]            # shorter than depth: rest is 0
    dut = RAM(width=16, depth=8, init=init)
    expect = init + [0] * (8 - len(init))

    async def tb(ctx):
        ctx.set(dut.raddr, 0)
        await ctx.tick()
        for a in [1, 4, 3, 7, 6, 2, 5, 0]:
            before = ctx.get(dut.rdata)
            ctx.set(dut.raddr, a)
            # the address does not reach rdata before the clock edge
            assert ctx.get(dut.rdata) == before
            await ctx.tick()
            assert ctx.get(dut.rdata) == expect[a], a
    run(dut, tb)


def test_write_then_read_and_collision_reads_old_data():
    dut = RAM(width=12, depth=16, init=list(range(100, 116)))

    async def tb(ctx):
        # write address 5 while reading it in the same cycle: the read gets the old word
        ctx.set(dut.we, 1)
        ctx.set(dut.waddr, 5)
        ctx.set(dut.wdata, 0xABC)
        ctx.set(dut.raddr, 5)
        await ctx.tick()
        assert ctx.get(dut.rdata) == 105
        ctx.set(dut.we, 0)
        await ctx.tick()                                   # next read sees the new word
        assert ctx.get(dut.rdata) == 0xABC
        # a write elsewhere does not disturb the word being read
        ctx.set(dut.we, 1)
        ctx.set(dut.waddr, 6)
        ctx.set(dut.wdata, 0x777)
        await ctx.tick()
        assert ctx.get(dut.rdata) == 0xABC
        ctx.set(dut.we, 0)
        ctx.set(dut.raddr, 6)
        await ctx.tick()
        assert ctx.get(dut.rdata) == 0x777
        # we low: wdata/waddr are ignored
        ctx.set(dut.waddr, 7)
        ctx.set(dut.wdata, 0x555)
        ctx.set(dut.raddr, 7)
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.rdata) == 107
    run(dut, tb)


def test_wide_words_and_non_power_of_two_depth():
    words = [(0x0123456789ABCDEF * (i + 1)) & ((1 << 64) - 1) for i in range(5)]
    dut = RAM(width=64, depth=5, init=words)
    assert dut.abits == 3

    async def tb(ctx):
        for a in range(5):
            ctx.set(dut.raddr, a)
            await ctx.tick()
            assert ctx.get(dut.rdata) == words[a]
    run(dut, tb)


@pytest.mark.parametrize("width, depth", [(0, 4), (8, 0)])
def test_bad_geometry_is_refused(width, depth):
    with pytest.raises(ValueError, match="positive"):
        RAM(width=width, depth=depth, name="x")


class _OverridePlatform:
    """A platform whose eiegen_ram_override puts the RAM named 'mine' into a
    BlockRAM with its own contents and leaves the others to the default."""

    def __init__(self):
        self.seen = []

    def eiegen_ram_override(self, ram):
        from eiegen.boards.bram import BlockRAM
        self.seen.append(ram.name)
        if ram.name != "mine":
            return None
        return BlockRAM(width=ram.width, depth=ram.depth, store_width=12, store_depth=256,
                        init=[0x500 + i for i in range(256)], name=ram.name)


def _sim_on(platform, dut, tb):
    from amaranth.hdl import Fragment
    run(Fragment.get(dut, platform), tb)


def test_platform_override_replaces_the_memory_and_is_wired():
    plat = _OverridePlatform()
    dut = RAM(width=10, depth=20, name="mine", init=[1, 2, 3])

    async def tb(ctx):
        # the override's contents, not RAM's init, and only `width` bits of them
        for a in (0, 7, 19):
            assert await _read(ctx, dut, a) == (0x500 + a) & 0x3FF
        ctx.set(dut.we, 1)
        ctx.set(dut.waddr, 7)
        ctx.set(dut.wdata, 0x2AB)
        ctx.set(dut.raddr, 7)
        await ctx.tick()
        assert ctx.get(dut.rdata) == 0x107                 # read before write
        ctx.set(dut.we, 0)
        await ctx.tick()
        assert ctx.get(dut.rdata) == 0x2AB
    _sim_on(plat, dut, tb)
    assert plat.seen == ["mine"]


def test_platform_override_none_keeps_the_default():
    plat = _OverridePlatform()
    dut = RAM(width=8, depth=4, name="other", init=[9, 8, 7, 6])

    async def tb(ctx):
        for a in range(4):
            assert await _read(ctx, dut, a) == 9 - a
    _sim_on(plat, dut, tb)
    assert plat.seen == ["other"]


async def _read(ctx, dut, addr):
    ctx.set(dut.raddr, addr)
    await ctx.tick()
    return ctx.get(dut.rdata)
