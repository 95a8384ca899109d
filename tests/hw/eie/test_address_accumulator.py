"""hw/eie/address_accumulator.py: (first, z) entries -> local rows, against
the docs/design.md encoding (padding entries (0, 15) stand for 16 rows)."""

import random

import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.address_accumulator import AddressAccumulator


def encode_column(rows):
    """docs/design.md: a run of g zeros before a non-zero -> g // 16 padding
    entries (v=0, z=15), then the entry with z = g % 16. Returns [(v, z)]
    with v = 1 + index of the non-zero (so entries are distinguishable)."""
    out, prev = [], -1
    for n, r in enumerate(rows):
        g = r - prev - 1
        out += [(0, 15)] * (g // 16) + [(1 + n % 15, g % 16)]
        prev = r
    return out


def test_paper_example():
    # EIE paper: column [0, 0, 1, 2, 0 x 18, 3] -> v = [1, 2, 0, 3], z = [2, 0, 15, 2]
    assert [z for _, z in encode_column([2, 3, 22])] == [2, 0, 15, 2]
    assert _rows([[(1, 2), (2, 0), (0, 15), (3, 2)]], 6)[0] == [2, 3, 19, 22]


def _rows(columns, row_width, bubbles=None):
    """Feed columns of (v, z) entries, optionally with idle cycles in between;
    returns the `row` output seen for every entry, per column."""
    dut = AddressAccumulator(row_width)
    got = []
    rng = random.Random(1)

    async def tb(ctx):
        for col in columns:
            seen = []
            for i, (v, z) in enumerate(col):
                while bubbles and rng.random() < bubbles:     # valid low: the row is held
                    ctx.set(dut.valid, 0)
                    ctx.set(dut.first, rng.random() < 0.5)
                    ctx.set(dut.z, rng.randrange(16))
                    await ctx.tick()
                ctx.set(dut.valid, 1)
                ctx.set(dut.first, i == 0)
                ctx.set(dut.z, z)
                seen.append(ctx.get(dut.row))
                await ctx.tick()
            got.append(seen)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("bubbles", [None, 0.4])
def test_random_columns_land_on_their_rows(bubbles):
    rng = random.Random(7)
    out_local, row_width = 100, 7
    columns, expect = [], []
    for _ in range(30):
        density = rng.choice([0.02, 0.1, 0.5, 1.0])
        rows = [r for r in range(out_local) if rng.random() < density] or [rng.randrange(out_local)]
        col = encode_column(rows)
        columns.append(col)
        # row of each entry: padding entries land 16 rows on; entries on their row
        r, exp = -1, []
        for v, z in col:
            r += z + 1
            exp.append(r)
        assert [x for x, (v, _) in zip(exp, col) if v] == rows
        expect.append(exp)
    assert any(v == 0 for c in columns for v, _ in c)           # padding exercised
    assert _rows(columns, row_width, bubbles) == expect
