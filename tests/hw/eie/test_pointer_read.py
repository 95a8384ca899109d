"""hw/eie/pointer_read.py with its two pointer banks (hw/common/ram.py):
a broadcast of column j at cycle t gives (value, p[g], p[g+1]) at t+1,
g = ptr_base + j, for even and odd g alike."""

import random

import numpy as np
import pytest
from amaranth import Module, Elaboratable
from amaranth.sim import Simulator

from eiegen.hw.common.ram import RAM
from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.pointer_read import PointerReadUnit

PARAMS = EIEParams(n_pes=4, act_depth=16, spmat_depth=256, ptr_depth=32)    # j < 64


class _Bench(Elaboratable):
    """The unit reading two RAMs initialised with p[0::2] and p[1::2]."""

    def __init__(self, params, ptrs):
        self.dut = PointerReadUnit(params)
        self.even = RAM(width=params.ptr_width, depth=params.ptr_depth, init=ptrs[0::2])
        self.odd = RAM(width=params.ptr_width, depth=params.ptr_depth, init=ptrs[1::2])

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut, m.submodules.even, m.submodules.odd = self.dut, self.even, self.odd
        m.d.comb += [self.even.raddr.eq(self.dut.even_raddr), self.odd.raddr.eq(self.dut.odd_raddr),
                     self.dut.even_rdata.eq(self.even.rdata), self.dut.odd_rdata.eq(self.odd.rdata)]
        return m


def _pointers(params, seed):
    """Non-decreasing pointers (entry counts per column) filling both banks."""
    rng = np.random.default_rng(seed)
    n = 2 * params.ptr_depth
    counts = rng.integers(0, 9, n - 1)          # up to 8 * 63 = 504 < 512 entries
    p = np.concatenate([[0], np.cumsum(counts)])
    assert p[-1] < params.entry_capacity
    return [int(x) for x in p]


def _run(bench, tb):
    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("ptr_base", [0, 1, 6, 9])
def test_even_and_odd_columns(ptr_base):
    p = _pointers(PARAMS, ptr_base)
    bench = _Bench(PARAMS, p)
    dut = bench.dut
    cols = list(range(0, 2 * PARAMS.ptr_depth - 1 - ptr_base))       # every g, even and odd
    rng = random.Random(ptr_base)
    rng.shuffle(cols)

    async def tb(ctx):
        ctx.set(dut.ptr_base, ptr_base)
        for j in cols:
            value = rng.randrange(-32768, 32768)
            ctx.set(dut.bcast_valid, 1)
            ctx.set(dut.bcast_value, value)
            ctx.set(dut.bcast_col, j)
            await ctx.tick()
            ctx.set(dut.bcast_valid, 0)
            g = ptr_base + j
            assert ctx.get(dut.out.valid) == 1 and ctx.get(dut.busy) == 1
            got = ctx.get(dut.out.payload)
            assert (got.value, got.start, got.end) == (value, p[g], p[g + 1]), (j, g)
            await ctx.tick()
            assert ctx.get(dut.out.valid) == 0 and ctx.get(dut.busy) == 0
    _run(bench, tb)


def test_back_to_back_broadcasts_one_per_cycle():
    p = _pointers(PARAMS, 99)
    bench = _Bench(PARAMS, p)
    dut = bench.dut
    ptr_base = 3
    rng = random.Random(5)
    stream = [(rng.random() < 0.8, rng.randrange(0, 2 * PARAMS.ptr_depth - 1 - ptr_base),
               rng.randrange(-32768, 32768)) for _ in range(120)]

    async def tb(ctx):
        ctx.set(dut.ptr_base, ptr_base)
        prev = None
        for valid, j, value in stream + [(False, 0, 0)]:
            ctx.set(dut.bcast_valid, valid)
            ctx.set(dut.bcast_col, j)
            ctx.set(dut.bcast_value, value)
            if prev is not None:                 # last cycle's broadcast is on `out` now
                pv, pj, pval = prev
                assert ctx.get(dut.out.valid) == pv
                if pv:
                    got = ctx.get(dut.out.payload)
                    g = ptr_base + pj
                    assert (got.value, got.start, got.end) == (pval, p[g], p[g + 1])
            await ctx.tick()
            prev = (valid, j, value)
    _run(bench, tb)


def test_bank_addresses():
    # the pair p[g], p[g+1] always comes from different banks
    dut = PointerReadUnit(PARAMS)

    async def tb(ctx):
        for base in (0, 1, 4, 7):
            ctx.set(dut.ptr_base, base)
            for j in range(20):
                ctx.set(dut.bcast_col, j)
                g = base + j
                assert ctx.get(dut.even_raddr) == (g + 1) // 2
                assert ctx.get(dut.odd_raddr) == g // 2
    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
