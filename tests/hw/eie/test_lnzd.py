# amaranth: UnusedElaboratable=no
"""hw/eie/lnzd.py: priority_encode, the local LNZD and the LNZD tree node."""

import random

import pytest
from amaranth import Module, Signal, Elaboratable
from amaranth.sim import Simulator

from eiegen.hw.eie.lnzd import priority_encode, LNZD, LNZDNode


def run(dut, tb, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def lowest_set(x):
    return (x & -x).bit_length() - 1 if x else None


# -- priority_encode ---------------------------------------------------------------

class _Encoder(Elaboratable):
    def __init__(self, width):
        self.width = width
        self.bits = Signal(width)
        self.valid = Signal()
        self.index = Signal(max(1, (width - 1).bit_length()))

    def elaborate(self, platform):
        m = Module()
        valid, index = priority_encode(m, self.bits, self.width)
        m.d.comb += [self.valid.eq(valid), self.index.eq(index)]
        return m


def _check_encoder(width, values):
    dut = _Encoder(width)

    async def tb(ctx):
        for x in values:
            ctx.set(dut.bits, x)
            expect = lowest_set(x)
            assert ctx.get(dut.valid) == (expect is not None), (width, x)
            if expect is not None:
                assert ctx.get(dut.index) == expect, (width, bin(x))
    run(dut, tb, clock=False)


@pytest.mark.parametrize("width", range(1, 9))
def test_priority_encode_exhaustive(width):
    _check_encoder(width, range(1 << width))


def test_priority_encode_64_random():
    rng = random.Random(64)
    values = [0, (1 << 64) - 1, 1 << 63] + [1 << b for b in range(64)]
    for _ in range(300):
        # sparse words, so the lowest set bit lands everywhere
        x = 0
        for _ in range(rng.randint(1, 4)):
            x |= 1 << rng.randrange(64)
        values.append(x)
        values.append(rng.getrandbits(64))
    _check_encoder(64, values)


# -- LNZD -------------------------------------------------------------------------

def _lnzd_walk(depth, flags, limit, pops_per_cycle=None, cycles=None):
    """Enable the LNZD, pop whenever pops_per_cycle(t) says so; returns
    the (head_valid, head, popped) sequence seen."""
    dut = LNZD(depth)
    seen = []

    async def tb(ctx):
        ctx.set(dut.flags, flags)
        ctx.set(dut.limit, limit)
        ctx.set(dut.enable, 1)
        for t in range(cycles):
            pop = pops_per_cycle(t)
            ctx.set(dut.pop, pop)
            seen.append((ctx.get(dut.head_valid), ctx.get(dut.head), pop))
            await ctx.tick()
    run(dut, tb)
    return seen


def _nonzeros(flags, limit):
    return [k for k in range(limit) if flags >> k & 1]


def test_lnzd_all_zero_has_no_head():
    seen = _lnzd_walk(16, 0, 16, lambda t: 1, cycles=4)
    assert [v for v, _, _ in seen] == [0, 0, 0, 0]


@pytest.mark.parametrize("k", [0, 1, 7, 14, 15])
def test_lnzd_single_nonzero(k):
    seen = _lnzd_walk(16, 1 << k, 16, lambda t: t == 2, cycles=5)
    # held until popped, gone the cycle after the pop
    assert seen[:3] == [(1, k, False), (1, k, False), (1, k, True)]
    assert [v for v, _, _ in seen[3:]] == [0, 0]


@pytest.mark.parametrize("depth", [1, 5, 16, 33])
def test_lnzd_pops_walk_nonzeros_in_order_one_per_cycle(depth):
    rng = random.Random(depth)
    for _ in range(3):
        flags = rng.getrandbits(depth)
        nz = _nonzeros(flags, depth)
        seen = _lnzd_walk(depth, flags, depth, lambda t: 1, cycles=len(nz) + 2)
        # popping every cycle: the i-th cycle shows the i-th non-zero, then nothing
        assert [h for v, h, _ in seen if v] == nz
        assert [v for v, _, _ in seen] == [1] * len(nz) + [0, 0]


def test_lnzd_pop_pattern_with_pauses():
    rng = random.Random(3)
    flags = 0b1011_0000_0110_1101_1000_0001_0110_1011
    pops = [rng.random() < 0.5 for _ in range(80)]
    seen = _lnzd_walk(32, flags, 32, lambda t: pops[t], cycles=80)
    popped = [h for v, h, p in seen if v and p]
    assert popped == _nonzeros(flags, 32)
    # the head only moves after a pop
    for (v0, h0, p0), (v1, h1, _) in zip(seen, seen[1:]):
        if v0 and not p0:
            assert (v1, h1) == (v0, h0)


@pytest.mark.parametrize("limit", [0, 1, 6, 11, 16])
def test_lnzd_limit_masks(limit):
    flags = 0b1111_0101_1100_0011
    seen = _lnzd_walk(16, flags, limit, lambda t: 1, cycles=12)
    assert [h for v, h, _ in seen if v] == _nonzeros(flags, limit)


def test_lnzd_enable_low_hides_head_and_resets_position():
    dut = LNZD(16)
    flags = 0b0100_1001_0010_0100
    nz = _nonzeros(flags, 16)

    async def tb(ctx):
        ctx.set(dut.flags, flags)
        ctx.set(dut.limit, 16)
        assert ctx.get(dut.head_valid) == 0           # enable low: no head
        ctx.set(dut.pop, 1)
        await ctx.tick()                              # a pop while disabled does nothing
        ctx.set(dut.enable, 1)
        for k in nz[:3]:
            assert (ctx.get(dut.head_valid), ctx.get(dut.head)) == (1, k)
            await ctx.tick()
        ctx.set(dut.pop, 0)
        assert ctx.get(dut.head) == nz[3]
        ctx.set(dut.enable, 0)
        assert ctx.get(dut.head_valid) == 0
        await ctx.tick()
        ctx.set(dut.enable, 1)                        # scan starts again from 0
        assert (ctx.get(dut.head_valid), ctx.get(dut.head)) == (1, nz[0])
    run(dut, tb)


def test_lnzd_flags_changing_under_the_scan():
    # positions already passed stay passed; new non-zeros ahead are found
    dut = LNZD(8)

    async def tb(ctx):
        ctx.set(dut.limit, 8)
        ctx.set(dut.enable, 1)
        ctx.set(dut.flags, 0b0000_0110)
        ctx.set(dut.pop, 1)
        await ctx.tick()                               # pops 1
        ctx.set(dut.flags, 0b1000_0111)                # 0 appears behind, 7 ahead
        assert ctx.get(dut.head) == 2
        await ctx.tick()
        assert (ctx.get(dut.head_valid), ctx.get(dut.head)) == (1, 7)
    run(dut, tb)


# -- LNZDNode ----------------------------------------------------------------------

def _node_ref(children, idw):
    """children: list of (valid, k, id). Lowest k, ties to the lowest child."""
    best = None
    for i, (v, k, ident) in enumerate(children):
        if v and (best is None or k < best[1]):
            best = (i, k, ident)
    if best is None:
        return None
    i, k, ident = best
    return k, (ident | (i << idw)) if idw else i


@pytest.mark.parametrize("fan_in, idw", [(4, 0), (4, 2), (4, 4), (2, 3), (3, 2)])
def test_lnzd_node_random(fan_in, idw):
    kw = 3
    dut = LNZDNode(kw, idw, fan_in)
    rng = random.Random(fan_in * 10 + idw)
    cases = [[(0, 0, 0)] * fan_in,                                 # nobody valid
             [(1, 5, 1)] * fan_in,                                 # all tie: child 0
             [(0, 0, 1)] * (fan_in - 1) + [(1, 7, (1 << idw) - 1 if idw else 0)],
             [(0, 0, 0)] + [(1, 3, 2)] * (fan_in - 1)]             # invalid k = 0 ignored
    for _ in range(400):
        cases.append([(rng.random() < 0.6, rng.randrange(1 << kw),
                       rng.randrange(1 << idw) if idw else 0) for _ in range(fan_in)])

    async def tb(ctx):
        for children in cases:
            for i, (v, k, ident) in enumerate(children):
                ctx.set(getattr(dut, f"valid{i}"), v)
                ctx.set(getattr(dut, f"k{i}"), k)
                if idw:
                    ctx.set(getattr(dut, f"id{i}"), ident)
            expect = _node_ref(children, idw)
            assert ctx.get(dut.valid) == (expect is not None), children
            if expect is not None:
                assert (ctx.get(dut.k), ctx.get(dut.id)) == expect, children
    run(dut, tb, clock=False)
