"""Accumulators: overwrite / add, the R + C pipeline delay, back-to-back rows."""

import numpy as np
from amaranth.sim import Simulator

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.accumulators import Accumulators
from eiegen.sim.systolic_golden import wrap


def test_overwrite_accumulate_and_same_row_back_to_back():
    p = SystolicParams(rows=2, cols=3, acc_depth=16, acc_width=16)
    D = p.pipeline_depth
    dut = Accumulators(p)
    rng = np.random.default_rng(3)
    # (row, accumulate) issued on consecutive cycles; rows 5 and 6 repeat at once
    ops = [(5, 0), (6, 0), (5, 1), (5, 1), (6, 1), (7, 0), (7, 1), (5, 1)]
    psums = rng.integers(-2 ** 15, 2 ** 15, (len(ops), p.cols))
    model = {}
    for (row, acc), ps in zip(ops, psums):
        model[row] = wrap((model[row] if acc else 0) + ps, p.acc_width)
    got = {}

    async def tb(ctx):
        T = len(ops) + D + 3
        for t in range(T):
            if t < len(ops):
                row, acc = ops[t]
                ctx.set(dut.ctl_in, {"valid": 1, "accumulate": acc, "addr": row})
            else:
                ctx.set(dut.ctl_in, {"valid": 0, "accumulate": 0, "addr": 0})
            k = t - D                      # the row issued at k arrives now
            if 0 <= k < len(ops):
                ctx.set(dut.psum_in, [int(v) for v in psums[k]])
                assert ctx.get(dut.busy)
            await ctx.tick()
        assert not ctx.get(dut.busy)
        for row in model:
            ctx.set(dut.act_raddr, row)
            await ctx.tick()
            got[row] = np.array([ctx.get(dut.act_rdata[c]) for c in range(p.cols)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    for row in model:
        np.testing.assert_array_equal(got[row], model[row], err_msg=f"row {row}")
