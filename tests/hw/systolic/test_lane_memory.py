"""LaneMemory's read copy (`read_copy`): a second output register of read
port 0 that follows the first exactly, through reads, `hold0` and the host's
reads (the sequencer decodes from it, hw/systolic/sequencer.py)."""

from amaranth import unsigned

from eiegen.hw.systolic.lane_memory import LaneMemory
from eiegen.sim.amaranth_sim import run


def test_read_copy_follows_rdata0():
    dut = LaneMemory(lanes=1, lane_shape=unsigned(16), depth=8, chunk_lanes=1, bus_lane_bits=16,
                     no_rw_check=True, read_copy=True)
    pairs = []

    async def tb(ctx):
        ctx.set(dut.we, 1)
        ctx.set(dut.wlanes, 1)
        for a in range(8):
            ctx.set(dut.waddr, a)
            ctx.set(dut.wdata, [0x1111 * (a + 1)])
            await ctx.tick()
        ctx.set(dut.we, 0)
        # reads of rows 0..7, the output registers held for two cycles in the middle,
        # then the host owning the port (its row h_row)
        for t, (addr, hold, host) in enumerate([(0, 0, 0), (3, 0, 0), (5, 1, 0), (6, 1, 0),
                                                 (7, 0, 0), (2, 0, 0), (0, 0, 1), (0, 1, 1)]):
            ctx.set(dut.raddr0, addr)
            ctx.set(dut.hold0, hold)
            ctx.set(dut.host_owns, host)
            ctx.set(dut.h_row, 4)
            await ctx.tick()
            pairs.append((ctx.get(dut.rdata0[0]), ctx.get(dut.rdata0_copy[0])))

    run(dut, tb)
    assert all(a == b for a, b in pairs), pairs
    # a read's row is in the register two cycles after its address (row 0 first, also
    # before any read); hold0 keeps the register two cycles (row 3's read is lost, row 5's
    # data too); then rows 6 and 7; the host's reads go through while it owns the port
    # (row 2, whose read was the unit's, then the host's row 4, hold0 high: the host reads)
    words = [a for a, _ in pairs]
    assert words == [0x1111, 0x1111, 0x1111, 0x1111, 0x7777, 0x8888, 0x3333, 0x5555], \
        [hex(w) for w in words]
