"""hw/eie/spmat_read.py: one entry per cycle from the sparse-matrix memory.

Columns (value, start, count) are offered as the activation queue offers
them (head valid from its arrival on, taken on `ready`). Checked cycle by
cycle: the entries come out in column order, M = mem_latency cycles after
their issue, with the column's value and `e_first` on its first entry; a
column of n entries issues on n consecutive cycles, its first on the cycle
it is dequeued; a non-empty head is started as soon as the unit is free (no
bubble); an empty column is dropped in the cycle it is at the head, even
while another column issues."""

import random

import numpy as np
import pytest
from amaranth import Module, Elaboratable

from eiegen.hw.common.ram import RAM
from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.spmat_read import SparseMatrixReadUnit
from eiegen.sim.amaranth_sim import run


class _Bench(Elaboratable):
    def __init__(self, params, words):
        self.unit = SparseMatrixReadUnit(params)
        self.ram = RAM(width=params.spmat_width, depth=params.spmat_depth,
                       init=[int(w) for w in words], latency=params.mem_latency)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit, m.submodules.ram = u, r = self.unit, self.ram
        m.d.comb += [r.raddr.eq(u.raddr), u.rdata.eq(r.rdata)]
        return m


def _columns(rng, capacity, n):
    cols = []
    for _ in range(n):
        kind = rng.random()
        count = 0 if kind < 0.25 else 1 if kind < 0.45 else rng.randrange(2, 12)
        start = rng.randrange(capacity - count + 1)
        cols.append((rng.randrange(-32768, 32768), start, count))
    return cols


def simulate(p, entries, cols, arrivals):
    """Run the unit; arrivals[i]: first cycle column i may be at the queue head."""
    epw = p.entries_per_word
    words = [sum(int(entries[w * epw + i]) << (8 * i) for i in range(epw))
             for w in range(p.spmat_depth)]
    bench = _Bench(p, words)
    u = bench.unit
    log = []

    async def tb(ctx):
        i = 0
        t = 0
        while i < len(cols) or t < 8 or any(r["issue"] or r["e_valid"] for r in log[-4:]):
            head = cols[i] if i < len(cols) and arrivals[i] <= t else None
            ctx.set(u.col.valid, head is not None)
            if head:
                ctx.set(u.col.payload, {"value": head[0], "start": head[1], "count": head[2],
                                        "empty": head[2] == 0, "single": head[2] == 1})
            e = ctx.get(u.e)
            rec = {"head": i if head else None, "ready": ctx.get(u.col.ready),
                   "dequeue": ctx.get(u.dequeue), "issue": ctx.get(u.issue),
                   "active": ctx.get(u.active), "e_valid": ctx.get(u.e_valid),
                   "e": (e.v, e.z), "e_first": ctx.get(u.e_first), "e_value": ctx.get(u.e_value)}
            log.append(rec)
            assert rec["dequeue"] == (head is not None and rec["ready"])
            if rec["dequeue"]:
                i += 1
            await ctx.tick()
            t += 1
            assert t < 100_000

    run(bench, tb)
    return log


@pytest.mark.parametrize("lat, epw", [(1, 1), (2, 2), (1, 4), (2, 8)])
@pytest.mark.parametrize("traffic", ["dense", "sparse"])
def test_columns(lat, epw, traffic):
    p = EIEParams(n_pes=2, spmat_depth=64, entries_per_word=epw, mem_latency=lat)
    rng = random.Random(lat * 10 + epw + len(traffic))
    entries = np.array([rng.randrange(256) for _ in range(p.entry_capacity)], dtype=np.uint8)
    cols = _columns(rng, p.entry_capacity, 80)
    arrivals, t = [], 0
    for _ in cols:
        t += 0 if traffic == "dense" else rng.choice([0, 1, 3, 10])
        arrivals.append(t)
    log = simulate(p, entries, cols, arrivals)

    # entries out, in column order, with value and first flag, M cycles after the issue
    want = [((int(entries[s + j]) & 15, int(entries[s + j]) >> 4), int(j == 0), v)
            for v, s, n in cols for j in range(n)]
    got = [(r["e"], r["e_first"], r["e_value"]) for r in log if r["e_valid"]]
    assert got == want
    issue = [r["issue"] for r in log]
    assert [r["e_valid"] for r in log] == [0] * lat + issue[:-lat]
    # issue cycles: each non-empty column on consecutive cycles from its dequeue
    issue_cycles = [t for t, x in enumerate(issue) if x]
    deq = {}                                           # column -> dequeue cycle
    for t, r in enumerate(log):
        if r["dequeue"]:
            deq[r["head"]] = t
    pos = 0
    for i, (_, _, n) in enumerate(cols):
        if n == 0:
            continue
        mine = issue_cycles[pos:pos + n]
        assert mine == list(range(deq[i], deq[i] + n)), (i, mine, deq[i])
        pos += n
    assert pos == len(issue_cycles)
    for t, r in enumerate(log):
        if r["head"] is None:
            continue
        v, s, n = cols[r["head"]]
        if n == 0:                                     # dropped at once, busy or not
            assert r["dequeue"], t
        if n and not r["active"]:                      # free: started without a bubble
            assert r["dequeue"] and r["issue"], t
    # the case that matters happened: an empty column dropped while another issues
    assert any(r["active"] and r["dequeue"] for r in log)
