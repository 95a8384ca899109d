"""hw/eie/arithmetic_unit.py: bias preload, saturating multiply-accumulate
with the bypass for back-to-back updates of one row, write-back reads.

Each test builds a cycle-by-cycle schedule (INIT, COMPUTE, drain, WB as
hw/eie/control.py sequences them), runs it, and compares the accumulators
read back with a plain-integer reference that saturates after every update
in issue order (docs/design.md)."""

import random

import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.arithmetic_unit import ArithmeticUnit


def reference(params, biases, updates):
    lo, hi = -(1 << (params.acc_width - 1)), (1 << (params.acc_width - 1)) - 1
    acc = [b << params.frac for b in biases]
    hit = set()
    for u in updates:
        if u is None:
            continue
        r, w, a = u
        s = acc[r] + w * a
        if s > hi or s < lo:
            hit.add("hi" if s > hi else "lo")
        acc[r] = min(hi, max(lo, s))
    return acc, hit


def run_unit(params, biases, updates):
    """INIT every row with its bias, feed `updates` (one (row, w, a) or None
    per cycle at M1), drain, read every row back. Returns (accumulators,
    per-cycle log of the compute phase as (busy,))."""
    dut = ArithmeticUnit(params)
    rows = len(biases)
    acc_out = {}
    busy_log = []

    async def tb(ctx):
        # INIT: request at t, bias word (the bias memory's answer) at t+1
        for k in range(rows + 1):
            ctx.set(dut.init_valid, k < rows)
            ctx.set(dut.init_row, k % rows)
            ctx.set(dut.bias, biases[k - 1] if k else 0)
            await ctx.tick()
        ctx.set(dut.bias, 0)
        # COMPUTE, then two cycles to drain M2 and M3
        for u in updates + [None, None]:
            ctx.set(dut.valid, u is not None)
            if u is not None:
                r, w, a = u
                ctx.set(dut.row, r)
                ctx.set(dut.w, w)
                ctx.set(dut.a, a)
            busy_log.append(ctx.get(dut.busy))
            await ctx.tick()
        ctx.set(dut.valid, 0)
        assert ctx.get(dut.busy) == 0
        # WB: request at t, answer at t+1
        order = list(range(rows))[::-1]
        for k in order:
            ctx.set(dut.wb_valid, 1)
            ctx.set(dut.wb_row, k)
            await ctx.tick()
            assert (ctx.get(dut.wb_out_valid), ctx.get(dut.wb_out_row)) == (1, k)
            acc_out[k] = ctx.get(dut.wb_acc)
        ctx.set(dut.wb_valid, 0)
        await ctx.tick()
        assert ctx.get(dut.wb_out_valid) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return [acc_out[k] for k in range(rows)], busy_log


def _expected_busy(updates):
    v = [u is not None for u in updates] + [False, False]
    return [int((t >= 1 and v[t - 1]) or (t >= 2 and v[t - 2])) for t in range(len(v))]


@pytest.mark.parametrize("acc_width, frac", [(24, 7), (32, 8), (32, 15), (17, 0)])
def test_bias_preload_is_bias_shifted_by_frac(acc_width, frac):
    p = EIEParams(act_depth=16, acc_width=acc_width, frac=frac, spmat_depth=64)
    rng = random.Random(acc_width + frac)
    biases = [-32768, 32767, 0, -1, 1] + [rng.randrange(-32768, 32768) for _ in range(11)]
    acc, _ = run_unit(p, biases, [])
    assert acc == [b << frac for b in biases]


def test_consecutive_same_row_updates_use_the_bypass():
    # eight back-to-back updates of one row: every one must see the previous
    # sum (a stale read would lose all but a few), with no stall cycle
    p = EIEParams(act_depth=16, spmat_depth=64)
    biases = [0] * 16
    updates = [(3, 2 + i, 100 * (i + 1)) for i in range(8)]
    acc, busy = run_unit(p, biases, updates)
    assert acc[3] == sum(w * a for _, w, a in updates)
    assert acc == reference(p, biases, updates)[0]
    assert busy == _expected_busy(updates)          # one entry per cycle, no wait


@pytest.mark.parametrize("pattern", [
    [3, 5] * 6,                              # same row two apart (read after the write)
    [3, 3, 5, 3, 3, 3, 5, 5, 3],             # mixed distances
    [1, None, 1, None, None, 1, 1],          # bubbles between same-row updates
    [2, 4, 6, 2, 4, 6, 2, 4, 6],             # three apart
])
def test_same_row_at_every_distance(pattern):
    p = EIEParams(act_depth=16, spmat_depth=64)
    rng = random.Random(len(pattern))
    biases = [rng.randrange(-500, 500) for _ in range(16)]
    updates = [None if r is None else (r, rng.randrange(-3000, 3000), rng.randrange(-3000, 3000))
               for r in pattern]
    acc, busy = run_unit(p, biases, updates)
    assert acc == reference(p, biases, updates)[0]
    assert busy == _expected_busy(updates)


@pytest.mark.parametrize("acc_width, frac", [(24, 7), (32, 8), (40, 8)])
def test_random_updates_saturate_at_both_ends(acc_width, frac):
    p = EIEParams(act_depth=16, acc_width=acc_width, frac=frac, spmat_depth=64)
    rng = random.Random(acc_width)
    biases = [rng.choice([-32768, 32767, 0, rng.randrange(-32768, 32768)]) for _ in range(16)]
    extreme = [-32768, 32767, -32767]
    # a same-sign run long enough for ~2^30 products to reach the rail
    period = 40 if acc_width <= 32 else 12 * (1 << (acc_width - 31))
    updates = []
    for _ in range(3 * period):
        if rng.random() < 0.15:
            updates.append(None)
            continue
        # few rows, long same-sign runs: partial sums hit the rails and come back
        r = rng.choice([0, 1, 2, 2, 2, 9, 15])
        sign = 1 if (len(updates) // period) % 2 == 0 else -1
        w = rng.choice(extreme + [rng.randrange(-32768, 32768)])
        a = rng.choice(extreme + [rng.randrange(-32768, 32768)])
        if r != 9:                                   # row 9: unbiased random walk
            a = abs(a) * sign * (1 if w >= 0 else -1)
            a = max(-32768, min(32767, a))
        updates.append((r, w, a))
    expect, hit = reference(p, biases, updates)
    assert hit == {"hi", "lo"}                       # both rails were exercised
    acc, busy = run_unit(p, biases, updates)
    assert acc == expect
    assert busy == _expected_busy(updates)
