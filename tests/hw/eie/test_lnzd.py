"""hw/eie/lnzd.py: the slice popcount, a PE's LNZDLane and the central LNZD,
each against a small Python model of its docstring, cycle by cycle."""

import collections
import random

import numpy as np
import pytest
from amaranth import Module, Signal, Elaboratable

from eiegen.hw.eie.lnzd import LNZD, LNZDLane, popcount
from eiegen.sim.amaranth_sim import run


# -- popcount -----------------------------------------------------------------------------

class _Popcount(Elaboratable):
    def __init__(self, width, levels):
        self.width, self.levels = width, levels
        self.bits = Signal(width)
        self.count = Signal(width.bit_length())

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.count.eq(popcount(m, self.bits, self.width, levels=self.levels))
        tick = Signal()
        m.d.sync += tick.eq(~tick)
        return m


@pytest.mark.parametrize("width", [1, 2, 5, 16, 17, 33, 64])
@pytest.mark.parametrize("levels", [0, 1])
def test_popcount(width, levels):
    rng = random.Random(width * 2 + levels)
    values = [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(200)]
    if width <= 5:
        values += list(range(1 << width))
    dut = _Popcount(width, levels)
    seen = []

    async def tb(ctx):
        for v in values + [0]:
            ctx.set(dut.bits, v)
            seen.append(ctx.get(dut.count))
            await ctx.tick()

    run(dut, tb)
    # levels=1 registers the group sums: one cycle later
    assert seen[levels:levels + len(values)] == [bin(v).count("1") for v in values]


# -- LNZDLane -----------------------------------------------------------------------------

@pytest.mark.parametrize("slots", [1, 3, 7])
def test_lane(slots):
    """word at t -> flag at t + 1; grant at t -> value_out (the head word) at
    t + 1, else 0; retire pops the head after the grant has read it."""
    rng = random.Random(slots)
    dut = LNZDLane(slots)
    log = []

    async def tb(ctx):
        q = collections.deque()
        expect_flag = expect_value = 0
        for t in range(400):
            word_valid = len(q) < slots and rng.random() < 0.5
            word = rng.choice([0, 0, rng.randrange(1, 1 << 16), 0xFFFF, 0x8000])
            grant = bool(q) and rng.random() < 0.5
            retire = bool(q) and rng.random() < 0.4
            ctx.set(dut.word_valid, word_valid)
            ctx.set(dut.word, word)
            ctx.set(dut.grant, grant)
            ctx.set(dut.retire, retire)
            assert ctx.get(dut.busy) == bool(q)
            assert ctx.get(dut.flag) == expect_flag
            assert ctx.get(dut.value_out) == expect_value
            log.append(grant and q[0] != 0)
            expect_flag = int(word_valid and word != 0)
            expect_value = q[0] if grant else 0
            if retire:
                q.popleft()
            if word_valid:
                q.append(word)
            await ctx.tick()

    run(dut, tb)
    assert sum(log) > 20                               # grants of non-zero words happened


# -- LNZD -----------------------------------------------------------------------------------

def lnzd_model(n, arrivals, room, enable):
    """The docstring as a model. arrivals[t]: (mask, k) or None; room/enable
    per cycle. A slice arriving at t can be the head from t + 1; the head
    issues its lowest set bit when enabled and room is high; it retires in
    the cycle its last bit issues, or (no bits) the first enabled cycle at
    the head. Returns per cycle (issue, grant, issue_k, retire, stall, head_valid)."""
    q = collections.deque()
    out = []
    for t in range(len(arrivals)):
        head = q[0] if q and q[0][0] < t else None
        issue = retire = stall = False
        grant, k = 0, 0
        if head is not None:
            _, mask, k = head
            grant = mask & -mask
            if enable[t]:
                if mask == 0:
                    retire = True
                elif room[t]:
                    issue = True
                    head[1] = mask & (mask - 1)
                    retire = head[1] == 0
                else:
                    stall = True
        out.append((int(issue), grant, k if head else None, int(retire), int(stall),
                    int(head is not None)))
        if retire:
            q.popleft()
        if arrivals[t] is not None:
            q.append([t, *arrivals[t]])
    return out


def _slice_stream(n, slots, cycles, rng, *, p_arrive, p_room, p_enable, kw):
    """Random slices that never exceed `slots` unretired (what the prefetch
    guarantees), so arrivals depend on the model's retires."""
    arrivals, room, enable = [], [], []
    k = 0
    for t in range(cycles):
        room.append(rng.random() < p_room)
        enable.append(rng.random() < p_enable)
        arrivals.append(None)
        # occupancy before this cycle's retire must be below the slots
        model = lnzd_model(n, arrivals[:-1], room[:-1], enable[:-1]) if t else []
        unretired = sum(a is not None for a in arrivals[:-1]) - sum(o[3] for o in model)
        if unretired < slots and rng.random() < p_arrive:
            kind = rng.random()
            mask = 0 if kind < 0.2 else (1 << n) - 1 if kind < 0.3 else rng.getrandbits(n)
            arrivals[-1] = (mask, k % (1 << kw))
            k += 1
    return arrivals, room, enable


@pytest.mark.parametrize("n, slots", [(1, 2), (2, 3), (4, 7), (5, 4), (16, 9)])
@pytest.mark.parametrize("mode", ["steady", "bursty"])
def test_lnzd_against_model(n, slots, mode):
    rng = random.Random(n * 100 + slots + len(mode))
    kw = 4
    cycles = 150
    if mode == "steady":
        stream = _slice_stream(n, slots, cycles, rng, p_arrive=0.6, p_room=0.8, p_enable=1.0, kw=kw)
    else:
        stream = _slice_stream(n, slots, cycles, rng, p_arrive=0.9, p_room=0.3, p_enable=0.8, kw=kw)
    arrivals, room, enable = stream
    expect = lnzd_model(n, arrivals, room, enable)
    dut = LNZD(n, kw, slots)
    seen = []

    async def tb(ctx):
        for t in range(cycles):
            a = arrivals[t]
            ctx.set(dut.slice_valid, a is not None)
            mask = a[0] if a else rng.getrandbits(n)         # garbage when not valid
            ctx.set(dut.slice_mask, mask)
            ctx.set(dut.slice_count, bin(mask).count("1"))
            ctx.set(dut.slice_k, a[1] if a else 0)
            ctx.set(dut.room, room[t])
            ctx.set(dut.enable, enable[t])
            hv = ctx.get(dut.head_valid)
            seen.append((ctx.get(dut.issue), ctx.get(dut.grant), ctx.get(dut.issue_k) if hv else None,
                         ctx.get(dut.retire), ctx.get(dut.stall), hv))
            await ctx.tick()

    run(dut, tb)
    for t, (s, e) in enumerate(zip(seen, expect)):
        if not e[5]:
            s = (s[0], 0, None, *s[3:])               # grant is don't-care without a head
            e = (e[0], 0, None, *e[3:])
        assert s == e, f"cycle {t}: rtl {s} model {e}"
    # the broadcasts come out in strictly increasing global column k * N + pe
    cols = [e[2] * n + (e[1].bit_length() - 1) for e in expect if e[0]]
    ks = [a[1] for a in arrivals if a]
    if ks == sorted(ks):                              # no k wrap-around in this run
        assert cols == sorted(set(cols))
    assert sum(e[0] for e in expect) > 10 and sum(e[4] for e in expect) > (0 if mode == "steady" else 5)


def test_back_to_back_slices_without_gaps():
    # slices arriving every cycle: after the first (arrived at 0, head at 1)
    # every cycle issues or retires a zero slice, with no bubble between slices
    n = 4
    masks = [0b1011, 0, 0b0100, 0b1111, 0, 0, 0b0001]
    arrivals = [(m, k) for k, m in enumerate(masks)] + [None] * 20
    cycles = len(arrivals)
    expect = lnzd_model(n, arrivals, [1] * cycles, [1] * cycles)
    busy = [e[0] or e[3] for e in expect]
    work = sum(max(1, bin(m).count("1")) for m in masks)
    assert busy[1:1 + work] == [1] * work
    dut = LNZD(n, 3, 7)
    seen = []

    async def tb(ctx):
        ctx.set(dut.room, 1)
        ctx.set(dut.enable, 1)
        for a in arrivals:
            ctx.set(dut.slice_valid, a is not None)
            if a:
                ctx.set(dut.slice_mask, a[0])
                ctx.set(dut.slice_count, bin(a[0]).count("1"))
                ctx.set(dut.slice_k, a[1])
            seen.append((ctx.get(dut.issue), ctx.get(dut.retire)))
            await ctx.tick()

    run(dut, tb)
    assert [s[0] or s[1] for s in seen] == busy
    # issue order: (k, pe) lowest PE first within a slice
    order = [(e[2], e[1].bit_length() - 1) for e in expect if e[0]]
    assert order == [(k, pe) for k, m in enumerate(masks) for pe in range(n) if m >> pe & 1]
