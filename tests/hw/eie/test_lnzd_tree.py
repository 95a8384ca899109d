"""hw/eie/lnzd_tree.py: the array's 4-ary LNZD tree names the valid head of
lowest global column j = k * N + pe (lowest k, ties to the lowest PE)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.lnzd_tree import LNZDTree


def _reference(valid, k, n):
    """numpy argmin over j = k * N + pe of the valid heads; None if none."""
    j = np.where(valid, k * n + np.arange(n), np.iinfo(np.int64).max)
    if not valid.any():
        return None
    pe = int(np.argmin(j))
    return int(k[pe]), pe


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 16, 17, 64])
def test_tree_matches_argmin(n):
    kw = 4
    dut = LNZDTree(n, kw)
    assert dut.leaves >= n and len(dut.pe) >= max(1, (n - 1).bit_length())
    rng = np.random.default_rng(n)
    cases = [
        (np.zeros(n, bool), np.zeros(n, np.int64)),                     # no head anywhere
        (np.ones(n, bool), np.full(n, 9)),                              # all tie: PE 0
        (np.arange(n) == n - 1, np.zeros(n, np.int64)),                 # only the last PE
        (np.arange(n) > 0, np.where(np.arange(n) > 0, 15, 0)),          # invalid PE 0 with k = 0
        (np.ones(n, bool), np.arange(n)[::-1] % 16),                    # decreasing k
    ]
    for density in (0.1, 0.5, 1.0):
        for _ in range(40 if n <= 17 else 15):
            valid = rng.random(n) < density
            k = rng.integers(0, 1 << kw, n)
            if rng.random() < 0.5:                                      # many ties on k
                k = rng.integers(0, 2, n) + 3
            cases.append((valid, k))

    async def tb(ctx):
        for valid, k in cases:
            for i in range(n):
                ctx.set(getattr(dut, f"valid{i}"), int(valid[i]))
                ctx.set(getattr(dut, f"k{i}"), int(k[i]))
            expect = _reference(valid, k, n)
            assert ctx.get(dut.valid) == (expect is not None)
            if expect is not None:
                got = (ctx.get(dut.k), ctx.get(dut.pe))
                assert got == expect, (valid.astype(int).tolist(), k.tolist(), got, expect)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
