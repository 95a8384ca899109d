"""hw/eie/pointer_read.py: p[g] and p[g+1] from the even/odd banks in one
read, (value, start = p[g], count = p[g+1] - p[g], empty, single) on `out` at
X + mem_latency + 1 for a broadcast at X; `busy` while one is inside.

The banks are hw/common/ram.RAMs holding a packer-style pointer list, the
broadcast addresses computed as the array does (even (g+1) >> 1, odd g >> 1)."""

import random

import numpy as np
import pytest
from amaranth import Module, Elaboratable

from eiegen.hw.common.ram import RAM
from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.pointer_read import PointerReadUnit
from eiegen.sim.amaranth_sim import run


class _Bench(Elaboratable):
    def __init__(self, params, ptr):
        self.unit = PointerReadUnit(params)
        lat = params.mem_latency
        self.even = RAM(width=params.ptr_width, depth=params.ptr_depth, init=[int(x) for x in ptr[0::2]],
                        latency=lat)
        self.odd = RAM(width=params.ptr_width, depth=params.ptr_depth, init=[int(x) for x in ptr[1::2]],
                       latency=lat)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit, m.submodules.even, m.submodules.odd = u, e, o = self.unit, self.even, self.odd
        m.d.comb += [e.raddr.eq(u.even_raddr), o.raddr.eq(u.odd_raddr),
                     u.even_rdata.eq(e.rdata), u.odd_rdata.eq(o.rdata)]
        return m


@pytest.mark.parametrize("lat", [1, 2])
def test_pointer_pairs(lat):
    p = EIEParams(n_pes=2, ptr_depth=32, spmat_depth=64, mem_latency=lat)
    rng = np.random.default_rng(lat)
    ptr = np.concatenate([[0], np.cumsum(rng.integers(0, 9, 2 * p.ptr_depth - 1))])
    ptr = np.minimum(ptr, p.entry_capacity)            # fits ptr_width
    bench = _Bench(p, ptr)
    u = bench.unit
    pyr = random.Random(lat)
    # broadcasts: g over the whole range (both parities, last pair), gaps and bursts
    sched = []
    for _ in range(150):
        if pyr.random() < 0.35:
            sched.append(None)
        else:
            sched.append((pyr.randrange(2 * p.ptr_depth - 1), pyr.randrange(-32768, 32768)))
    sched += [(0, 1), (2 * p.ptr_depth - 2, -1), (1, 5)]
    seen = []

    async def tb(ctx):
        for t in range(len(sched) + lat + 2):
            b = sched[t] if t < len(sched) else None
            ctx.set(u.bcast_valid, b is not None)
            g, v = b if b else (pyr.randrange(2 * p.ptr_depth - 1), 0)
            ctx.set(u.bcast_value, v)
            ctx.set(u.bcast_even, (g + 1) >> 1)
            ctx.set(u.bcast_odd, g >> 1)
            ctx.set(u.bcast_g_odd, g & 1)
            ctx.set(u.out.ready, 1)                        # the queue never refuses (credits)
            pl = u.out.payload
            seen.append((ctx.get(u.out.valid), ctx.get(pl.value), ctx.get(pl.start),
                         ctx.get(pl.count), ctx.get(u.busy), ctx.get(pl.empty), ctx.get(pl.single)))
            await ctx.tick()

    run(bench, tb)
    for t, b in enumerate(sched):
        valid, value, start, count, _, empty, single = seen[t + lat + 1]
        assert valid == (b is not None), t
        if b:
            g, v = b
            n = ptr[g + 1] - ptr[g]
            assert (value, start, count, empty, single) == (v, ptr[g], n, n == 0, n == 1), (t, g)
    # busy: a broadcast at X keeps the unit busy from X through X + lat + 1
    for t in range(len(seen)):
        inside = any(0 <= t - x <= lat + 1 and sched[x] is not None
                     for x in range(len(sched)))
        assert seen[t][4] == inside, t
