"""hw/eie/address_accumulator.py: the first entry of a column lands on row z,
every later one on previous row + z + 1 (modulo 2**row_width); `row` is
combinational, the previous row is registered only on a valid entry."""

import numpy as np
import pytest

from eiegen.hw.eie.address_accumulator import AddressAccumulator
from eiegen.sim.amaranth_sim import run


def rows_of_column(zs):
    """The image format's rule (sw/image.py decode): cumsum(z + 1) - 1."""
    return list(np.cumsum(np.asarray(zs) + 1) - 1)


def test_paper_example():
    # EIE paper: column [0, 0, 1, 2, 0 x 18, 3] -> z = [2, 0, 15, 2], the third a padding entry
    assert rows_of_column([2, 0, 15, 2]) == [2, 3, 19, 22]


@pytest.mark.parametrize("row_width", [4, 6, 12])
def test_rows_of_random_columns_with_gaps(row_width):
    rng = np.random.default_rng(row_width)
    dut = AddressAccumulator(row_width)
    cols = [[int(z) for z in rng.integers(0, 16, rng.integers(1, 12))] for _ in range(60)]
    cols += [[15] * 5, [0] * 9, [15, 0, 15]]         # padding entries, dense runs
    sched, expect = [], []
    for zs in cols:
        for i, (z, r) in enumerate(zip(zs, rows_of_column(zs))):
            while rng.random() < 0.3:                # bubbles, with garbage on the inputs
                sched.append((0, int(rng.integers(2)), int(rng.integers(16))))
                expect.append(None)
            sched.append((1, int(i == 0), z))
            expect.append(int(r) % (1 << row_width))

    async def tb(ctx):
        for (valid, first, z), e in zip(sched, expect):
            ctx.set(dut.valid, valid)
            ctx.set(dut.first, first)
            ctx.set(dut.z, z)
            if e is not None:
                assert ctx.get(dut.row) == e, (valid, first, z, e)
            await ctx.tick()

    run(dut, tb)
