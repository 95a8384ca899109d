"""Accumulators: overwrite / add, the pipeline delay, back-to-back rows into
the same accumulator row at every distance the forwarding covers."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.accumulators import Accumulators
from eiegen.hw.systolic.params import MEM_LATENCY
from eiegen.sim.amaranth_sim import run
from eiegen.sim.systolic_golden import wrap


def _run(p, ops, psums):
    """Issue ops[t] = (row, accumulate) or None at cycle t, its partial sums
    at t + D - 1; returns the final rows and the cycles busy was high."""
    D = p.pipeline_depth
    dut = Accumulators(p)
    model = {}
    for op, ps in zip(ops, psums):
        if op is not None:
            row, acc = op
            model[row] = wrap((model.get(row, 0) if acc else 0) + ps, p.acc_width)
    got = {}

    async def tb(ctx):
        T = len(ops) + D + 3
        for t in range(T):
            op = ops[t] if t < len(ops) else None
            if op is not None:
                ctx.set(dut.ctl_in, {"valid": 1, "accumulate": op[1], "addr": op[0]})
            else:
                ctx.set(dut.ctl_in, {"valid": 0, "accumulate": 0, "addr": 0})
            k = t - (D - 1)                # the row issued at k arrives now
            if 0 <= k < len(ops):
                ctx.set(dut.psum_in, [int(v) for v in psums[k]])
                if ops[k] is not None:
                    assert ctx.get(dut.busy)
            await ctx.tick()
        assert not ctx.get(dut.busy)
        for row in model:
            ctx.set(dut.act_raddr, row)
            for _ in range(MEM_LATENCY):
                await ctx.tick()
            got[row] = np.array([ctx.get(dut.act_rdata[c]) for c in range(p.cols)])

    # the memory starts at zero, as the model does for rows first accumulated into
    run(dut, tb)
    return model, got


def test_overwrite_accumulate_and_same_row_back_to_back():
    p = SystolicParams(rows=2, cols=3, acc_depth=16, acc_width=16)
    rng = np.random.default_rng(3)
    # (row, accumulate) issued on consecutive cycles; the same row again 1, 2, 3, 4 cycles later
    ops = [(5, 0), (6, 0), (5, 1), (5, 1), (6, 1), (7, 0), (7, 1), (5, 1)]
    lim = 1 << (p.psum_width(p.rows - 1) - 1)
    psums = rng.integers(-lim, lim, (len(ops), p.cols))
    model, got = _run(p, ops, psums)
    for row in model:
        np.testing.assert_array_equal(got[row], model[row], err_msg=f"row {row}")


@pytest.mark.parametrize("seed", range(3))
def test_random_rows_and_gaps(seed):
    p = SystolicParams(rows=3, cols=2, acc_depth=8)
    rng = np.random.default_rng(seed)
    ops = [None if rng.integers(4) == 0 else (int(rng.integers(0, 3)), int(rng.integers(0, 2)))
           for _ in range(40)]
    lim = 1 << (p.psum_width(p.rows - 1) - 1)
    psums = rng.integers(-lim, lim, (len(ops), p.cols))
    model, got = _run(p, ops, psums)
    for row in model:
        np.testing.assert_array_equal(got[row], model[row], err_msg=f"row {row}")
