"""hw/eie/activation_queue.py: FIFO of (value, start, end) items: empty and
full flags, back-pressure (w.ready low when full), order, level."""

import random

import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.params import BCAST_IN_FLIGHT, EIEParams
from eiegen.hw.eie.activation_queue import ActivationQueue


def run(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def _item(rng, params):
    top = 1 << params.ptr_width
    return {"value": rng.randrange(-32768, 32768), "start": rng.randrange(top),
            "end": rng.randrange(top)}


def _as_dict(c):
    return {"value": c.value, "start": c.start, "end": c.end}


@pytest.mark.parametrize("fifo_depth", [1, 2, 4])
def test_fill_until_full_then_drain_in_order(fifo_depth):
    p = EIEParams(fifo_depth=fifo_depth, act_depth=16, spmat_depth=64)
    dut = ActivationQueue(p)
    # the slack asked for plus one slot per broadcast in flight
    depth = fifo_depth + BCAST_IN_FLIGHT
    assert dut.depth == depth
    rng = random.Random(depth)
    items = [_item(rng, p) for _ in range(depth + 2)]

    async def tb(ctx):
        assert (ctx.get(dut.r.valid), ctx.get(dut.w.ready), ctx.get(dut.level)) == (0, 1, 0)
        accepted = []
        for n, it in enumerate(items):
            ctx.set(dut.w.valid, 1)
            ctx.set(dut.w.payload, it)
            # back-pressure: ready exactly while there is room
            assert ctx.get(dut.w.ready) == (n < depth), n
            if ctx.get(dut.w.ready):
                accepted.append(it)
            await ctx.tick()
            assert ctx.get(dut.level) == min(n + 1, depth)
            assert ctx.get(dut.r.valid) == 1
        ctx.set(dut.w.valid, 0)
        assert accepted == items[:depth]
        # a full queue with valid high and ready low keeps its contents
        drained = []
        ctx.set(dut.r.ready, 1)
        for n in range(depth):
            assert ctx.get(dut.r.valid) == 1
            drained.append(_as_dict(ctx.get(dut.r.payload)))
            await ctx.tick()
            assert ctx.get(dut.level) == depth - n - 1
            assert ctx.get(dut.w.ready) == 1
        assert drained == accepted
        assert ctx.get(dut.r.valid) == 0                      # empty
        await ctx.tick()                                      # reading empty: nothing happens
        assert (ctx.get(dut.r.valid), ctx.get(dut.level)) == (0, 0)
    run(dut, tb)


def test_head_waits_for_ready():
    p = EIEParams(fifo_depth=4, act_depth=16, spmat_depth=64)
    dut = ActivationQueue(p)
    a, b = {"value": -5, "start": 3, "end": 9}, {"value": 77, "start": 9, "end": 9}

    async def tb(ctx):
        for it in (a, b):
            ctx.set(dut.w.valid, 1)
            ctx.set(dut.w.payload, it)
            await ctx.tick()
        ctx.set(dut.w.valid, 0)
        for _ in range(3):                                     # r.ready low: head stays
            assert _as_dict(ctx.get(dut.r.payload)) == a
            await ctx.tick()
        ctx.set(dut.r.ready, 1)
        await ctx.tick()
        assert _as_dict(ctx.get(dut.r.payload)) == b
        assert ctx.get(dut.level) == 1
    run(dut, tb)


def test_random_traffic_preserves_order_and_level():
    p = EIEParams(fifo_depth=3, act_depth=16, spmat_depth=64)
    dut = ActivationQueue(p)
    rng = random.Random(7)
    source = [_item(rng, p) for _ in range(200)]
    got = []

    async def tb(ctx):
        i = 0
        level = 0
        stalls = 0
        for _ in range(600):
            wv = i < len(source) and rng.random() < 0.7
            rr = rng.random() < 0.4
            ctx.set(dut.w.valid, wv)
            if wv:
                ctx.set(dut.w.payload, source[i])
            ctx.set(dut.r.ready, rr)
            w_fire = wv and ctx.get(dut.w.ready)
            r_fire = rr and ctx.get(dut.r.valid)
            assert ctx.get(dut.w.ready) == (level < dut.depth)
            assert ctx.get(dut.r.valid) == (level > 0)
            stalls += wv and not w_fire
            if r_fire:
                got.append(_as_dict(ctx.get(dut.r.payload)))
            await ctx.tick()
            i += w_fire
            level += w_fire - r_fire
            assert ctx.get(dut.level) == level
        assert stalls > 0                                   # back-pressure was exercised
        assert got == source[:len(got)] and len(got) > 100
    run(dut, tb)
