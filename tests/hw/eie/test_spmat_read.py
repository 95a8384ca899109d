"""hw/eie/spmat_read.py with its sparse-matrix memory (hw/common/ram.py).

The unit takes columns (value, start, end) from a stream and issues one entry
per cycle; the test checks, against the memory contents and against the
dequeue recurrence of sim/eie_cycles.py for one PE,

    Pop(b) = max(A_b, Pop(b-1) + 1, U if n_b > 0),   U = Pop(b) + n_b,

(A_b: the cycle column b reaches the head of the stream) that every column is
taken on cycle Pop(b), its entries are issued on Pop(b) .. Pop(b) + n_b - 1
from word (start + i) >> log2(EPW), and come out one cycle later with the
right lane, value and `first` flag.
"""

import random

import pytest
from amaranth import Module, Elaboratable
from amaranth.sim import Simulator

from eiegen.hw.common.ram import RAM
from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.spmat_read import SparseMatrixReadUnit


class _Bench(Elaboratable):
    def __init__(self, params, entries):
        epw = params.entries_per_word
        words = [sum(entries[w * epw + i] << (8 * i) for i in range(epw))
                 for w in range(params.spmat_depth)]
        self.dut = SparseMatrixReadUnit(params)
        self.ram = RAM(width=params.spmat_width, depth=params.spmat_depth, init=words)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut, m.submodules.ram = self.dut, self.ram
        m.d.comb += [self.ram.raddr.eq(self.dut.raddr), self.dut.rdata.eq(self.ram.rdata)]
        return m


def _expected_pops(cols, arrive):
    pops, until, prev = [], None, None
    for (value, start, end), a in zip(cols, arrive):
        n = end - start
        p = a if prev is None else max(a, prev + 1)
        if n > 0 and until is not None:
            p = max(p, until)
        if n > 0:
            until = p + n
        pops.append(p)
        prev = p
    return pops


def _simulate(params, entries, cols, arrive):
    """Run the unit; returns (pop cycles, issue log, entry-output log)."""
    bench = _Bench(params, entries)
    dut = bench.dut
    pops, issues, outs = [], [], []
    n_entries = sum(e - s for _, s, e in cols)
    horizon = max(arrive, default=0) + n_entries + len(cols) + 8

    async def tb(ctx):
        b = 0
        for t in range(horizon):
            present = b < len(cols) and t >= arrive[b]
            ctx.set(dut.col.valid, present)
            if present:
                value, start, end = cols[b]
                ctx.set(dut.col.payload, {"value": value, "start": start, "end": end})
            if ctx.get(dut.e_valid):
                e = ctx.get(dut.e)
                outs.append((t, e.v, e.z, ctx.get(dut.e_first), ctx.get(dut.e_value)))
            if ctx.get(dut.issue):
                issues.append((t, ctx.get(dut.raddr)))
            assert ctx.get(dut.active) == (ctx.get(dut.issue) and not
                                           (present and ctx.get(dut.col.ready) and cols[b][1] != cols[b][2]))
            if present and ctx.get(dut.col.ready):
                pops.append(t)
                b += 1
            await ctx.tick()
        assert b == len(cols), "not every column was taken"

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return pops, issues, outs


def _check(params, entries, cols, arrive):
    pops, issues, outs = _simulate(params, entries, cols, arrive)
    exp_pops = _expected_pops(cols, arrive)
    assert pops == exp_pops
    lane_bits = params.entries_per_word.bit_length() - 1
    exp_issues, exp_outs = [], []
    for (value, start, end), p in zip(cols, exp_pops):
        for i in range(end - start):
            e = start + i
            exp_issues.append((p + i, e >> lane_bits))
            exp_outs.append((p + i + 1, entries[e] & 15, entries[e] >> 4, int(i == 0), value))
    assert issues == exp_issues
    assert outs == exp_outs
    return pops


def _random_columns(rng, params, n_cols, max_len, first_start):
    cols, s = [], first_start
    for _ in range(n_cols):
        n = rng.choice([0, 0, 1, 2] + list(range(1, max_len + 1)))
        if s + n > params.entry_capacity:
            break
        cols.append((rng.randrange(-32768, 32768), s, s + n))
        s += n
    return cols


@pytest.mark.parametrize("epw", [1, 2, 4, 8])
def test_columns_spanning_words_with_empty_columns(epw):
    p = EIEParams(entries_per_word=epw, act_depth=16, spmat_depth=64)
    rng = random.Random(epw)
    entries = [rng.randrange(256) for _ in range(p.entry_capacity)]
    # starts mid-word, columns up to three words long, all queued from cycle 0
    cols = _random_columns(rng, p, 40, 3 * epw + 1, first_start=epw // 2 + 1 if epw > 1 else 3)
    assert any(e == s for _, s, e in cols)
    assert any(s % epw for _, s, e in cols if e > s) or epw == 1
    assert any((e - 1) // epw - s // epw >= 2 for _, s, e in cols if e > s)
    _check(p, entries, cols, [0] * len(cols))


@pytest.mark.parametrize("epw", [1, 2, 4, 8])
def test_back_to_back_columns_without_bubbles(epw):
    # non-empty columns, all queued: column n+1's first entry is issued on the
    # cycle after column n's last, so N entries take exactly N cycles
    p = EIEParams(entries_per_word=epw, act_depth=16, spmat_depth=32)
    rng = random.Random(10 + epw)
    entries = [rng.randrange(256) for _ in range(p.entry_capacity)]
    cols, s = [], 1
    while True:
        n = rng.randint(1, 2 * epw + 1)
        if s + n > p.entry_capacity or len(cols) == 30:
            break
        cols.append((rng.randrange(-32768, 32768), s, s + n))
        s += n
    pops = _check(p, entries, cols, [0] * len(cols))
    assert pops == [c[1] - cols[0][1] for c in cols]
    _, issues, outs = _simulate(p, entries, cols, [0] * len(cols))
    n_entries = s - 1
    assert [t for t, _ in issues] == list(range(n_entries))
    assert [t for t, *_ in outs] == list(range(1, n_entries + 1))


@pytest.mark.parametrize("epw", [1, 2, 8])
def test_columns_arriving_late_and_out_of_place(epw):
    # arbitrary (non-contiguous) column starts, arrivals with gaps
    p = EIEParams(entries_per_word=epw, act_depth=16, spmat_depth=32)
    rng = random.Random(100 + epw)
    entries = [rng.randrange(256) for _ in range(p.entry_capacity)]
    cols, arrive, a = [], [], 0
    for _ in range(40):
        n = rng.choice([0, 1, 2, 5, 2 * epw + 1])
        s = rng.randrange(p.entry_capacity - n + 1)
        cols.append((rng.randrange(-32768, 32768), s, s + n))
        a += rng.choice([0, 0, 1, 3, 7])
        arrive.append(a)
    _check(p, entries, cols, arrive)


def test_empty_columns_dropped_while_busy():
    p = EIEParams(entries_per_word=2, act_depth=16, spmat_depth=32)
    entries = list(range(p.entry_capacity))
    cols = [(10, 3, 9),          # 6 entries, cycles 0..5
            (11, 9, 9), (12, 9, 9), (13, 9, 9),   # dropped on cycles 1, 2, 3 meanwhile
            (14, 9, 11),         # follows on cycle 6 with no bubble
            (15, 11, 11), (16, 11, 11),           # dropped on 7 and 8, while busy / as it ends
            (17, 11, 12)]        # cycle 9: after two empties, one bubble (cycle 8)
    pops = _check(p, entries, cols, [0] * len(cols))
    assert pops == [0, 1, 2, 3, 6, 7, 8, 9]


def test_single_entry_columns_one_per_cycle():
    p = EIEParams(entries_per_word=4, act_depth=16, spmat_depth=16)
    entries = [(7 * i + 1) & 0xFF for i in range(p.entry_capacity)]
    cols = [(-i, i * 3 + 1, i * 3 + 2) for i in range(12)]
    pops = _check(p, entries, cols, [0] * len(cols))
    assert pops == list(range(12))
