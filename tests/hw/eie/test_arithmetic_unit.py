"""hw/eie/arithmetic_unit.py: bias preload, saturating multiply-accumulate
with the bypass for back-to-back updates of one row, write-back reads.

The weight of an entry arrives one cycle after its row and activation (the
weight decoder's synchronous read). Each test runs a schedule as hw/eie/control.py sequences the phases (INIT,
COMPUTE, drain, WB) and compares the accumulators read back with a
plain-integer reference that saturates after every update in issue order
(the golden model's rule, sim/eie_golden.py)."""

import random

import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.arithmetic_unit import ArithmeticUnit
from eiegen.sim.amaranth_sim import run
from eiegen.sw.fixedpoint import acc_bounds


def mac_stages(params):
    """An entry at t is written into its row at the end of t + mac_stages: M1,
    M2 and, where the timing has them, the product stage M0 and the write
    stage M3 (hw/eie/timing.py)."""
    return 2 + params.timing.product_stage + params.timing.acc_write_stage


#: the arithmetic unit's timings: the iCE40's (M = 1), the ECP5's (M = 2: write stage), and a
#: large ECP5 array's (more than 16 PEs: the product stage too)
TIMINGS = [pytest.param(dict(mem_latency=1), id="M1"), pytest.param(dict(mem_latency=2), id="M2"),
           pytest.param(dict(mem_latency=2, n_pes=20), id="M2-product-stage")]


def reference(params, biases, updates):
    lo, hi = acc_bounds(params.acc_width)
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


async def wb_read(ctx, dut, rows):
    """WB reads: request at t, wb_acc at t + 1 (pipelined, one a cycle)."""
    out = []
    for i, k in enumerate(list(rows) + [None]):
        ctx.set(dut.wb_valid, k is not None)
        ctx.set(dut.wb_row, 0 if k is None else k)
        await ctx.tick()
        if i < len(rows):
            out.append(ctx.get(dut.wb_acc))
    ctx.set(dut.wb_valid, 0)
    return out


async def init_rows(ctx, dut, biases):
    for k, b in enumerate(biases):
        ctx.set(dut.init_valid, 1)
        ctx.set(dut.init_row, k)
        ctx.set(dut.bias, b)
        await ctx.tick()
    ctx.set(dut.init_valid, 0)


def run_unit(params, biases, updates):
    """INIT every row, feed `updates` (one (row, w, a) or None per cycle),
    drain, read every row back. Returns (accumulators, busy per cycle)."""
    dut = ArithmeticUnit(params)
    result = {}

    async def tb(ctx):
        await init_rows(ctx, dut, biases)
        busy = []
        prev = None
        for u in updates + [None] * mac_stages(params):
            ctx.set(dut.valid, u is not None)
            if u is not None:
                r, w, a = u
                ctx.set(dut.row, r)
                ctx.set(dut.a, a)
            if prev is not None:                     # the weight, one cycle after its entry
                ctx.set(dut.w, prev[1])
            prev = u
            busy.append(ctx.get(dut.busy))
            await ctx.tick()
        assert ctx.get(dut.busy) == 0
        result["busy"] = busy[1:] + [0]
        result["acc"] = await wb_read(ctx, dut, list(range(len(biases)))[::-1])

    run(dut, tb)
    return result["acc"][::-1], result["busy"]


def _expected_busy(updates, stages):
    """busy at t: an entry is in M1 (fed at t - 1), M2 (fed at t - 2) or M3 (fed
    at t - 3, with the write stage); listed from the first cycle after the first
    entry."""
    v = [u is not None for u in updates] + [False] * stages
    return [int(any(t >= d and v[t - d] for d in range(stages))) for t in range(len(v))]


@pytest.mark.parametrize("acc_width, frac", [(24, 7), (32, 8), (32, 15), (17, 0)])
def test_bias_preload_is_bias_shifted_by_frac(acc_width, frac):
    p = EIEParams(act_depth=16, acc_width=acc_width, frac=frac, spmat_depth=64)
    rng = random.Random(acc_width + frac)
    biases = [-32768, 32767, 0, -1, 1] + [rng.randrange(-32768, 32768) for _ in range(11)]
    acc, _ = run_unit(p, biases, [])
    assert acc == [b << frac for b in biases]


def test_init_write_is_readable_the_next_cycle():
    p = EIEParams(act_depth=8, spmat_depth=64)
    dut = ArithmeticUnit(p)

    async def tb(ctx):
        ctx.set(dut.init_valid, 1)
        ctx.set(dut.init_row, 3)
        ctx.set(dut.bias, -5)
        await ctx.tick()
        ctx.set(dut.init_valid, 0)
        assert await wb_read(ctx, dut, [3]) == [-5 << p.frac]

    run(dut, tb)


@pytest.mark.parametrize("tkw", TIMINGS)
def test_mac_latency(tkw):
    # an entry fed at t is in the accumulator memory for a WB read issued at
    # t + mac_stages + 1, not yet for one issued a cycle earlier
    p = EIEParams(act_depth=8, spmat_depth=64, **tkw)
    assert mac_stages(p) == p.timing.mac_latency - p.mem_latency
    seen = []
    for wait in (mac_stages(p), mac_stages(p) + 1):
        dut = ArithmeticUnit(p)

        async def tb(ctx):
            await init_rows(ctx, dut, [0] * 8)
            ctx.set(dut.valid, 1)
            ctx.set(dut.row, 6)
            ctx.set(dut.a, -7)
            await ctx.tick()
            ctx.set(dut.valid, 0)
            ctx.set(dut.w, 300)                      # from the decoder, a cycle later
            for _ in range(wait - 1):
                await ctx.tick()
            seen.append((await wb_read(ctx, dut, [6]))[0])

        run(dut, tb)
    assert seen == [0, -2100]


@pytest.mark.parametrize("tkw", TIMINGS)
def test_consecutive_same_row_updates_use_the_bypass(tkw):
    # eight back-to-back updates of one row: every one must see the previous
    # sum (a stale read would lose all but a few), with no stall cycle
    p = EIEParams(act_depth=16, spmat_depth=64, **tkw)
    biases = [0] * 16
    updates = [(3, 2 + i, 100 * (i + 1)) for i in range(8)]
    acc, busy = run_unit(p, biases, updates)
    assert acc[3] == sum(w * a for _, w, a in updates)
    assert acc == reference(p, biases, updates)[0]
    assert busy == _expected_busy(updates, mac_stages(p))          # one entry per cycle, no wait


@pytest.mark.parametrize("pattern", [
    [3, 5] * 6,                              # same row two apart (read after the write)
    [3, 3, 5, 3, 3, 3, 5, 5, 3],             # mixed distances
    [1, None, 1, None, None, 1, 1],          # bubbles between same-row updates
    [2, 4, 6, 2, 4, 6, 2, 4, 6],             # three apart
    [7, 7, 7, 4, 7, 4, 4, 7, None, 7, 4, 4],  # one and two apart at once (both forwards)
])
@pytest.mark.parametrize("tkw", TIMINGS)
def test_same_row_at_every_distance(pattern, tkw):
    p = EIEParams(act_depth=16, spmat_depth=64, **tkw)
    rng = random.Random(len(pattern))
    biases = [rng.randrange(-500, 500) for _ in range(16)]
    updates = [None if r is None else (r, rng.randrange(-3000, 3000), rng.randrange(-3000, 3000))
               for r in pattern]
    acc, busy = run_unit(p, biases, updates)
    assert acc == reference(p, biases, updates)[0]
    assert busy == _expected_busy(updates, mac_stages(p))


@pytest.mark.parametrize("acc_width, frac", [(17, 0), (24, 7), (32, 8), (40, 8)])
@pytest.mark.parametrize("tkw", TIMINGS)
def test_random_updates_saturate_at_both_ends(acc_width, frac, tkw):
    p = EIEParams(act_depth=16, acc_width=acc_width, frac=frac, spmat_depth=64,
                  **tkw)
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
    assert busy == _expected_busy(updates, mac_stages(p))


def test_exact_rails():
    # sums landing exactly on the bounds stay there; one past saturates to them;
    # (-32768) * (-32768) = 2**30 is the largest product
    p = EIEParams(act_depth=4, acc_width=17 + 8, frac=8, spmat_depth=64)
    lo, hi = acc_bounds(p.acc_width)
    assert (lo, hi) == (-(1 << 24), (1 << 24) - 1)
    biases = [0, 0, 0, 0]
    updates = [(0, 1 << 12, 1 << 12), (0, -1, 1),            # 2**24 -> hi, then hi - 1
               (1, -(1 << 12), 1 << 12), (1, -1, 1),         # exactly lo, then lo (saturated)
               (2, -32768, -32768), (2, -32768, 32767),      # hi, then hi - 2**30 -> lo
               (3, 4096, 4095), (3, 1, 4095), (3, 1, 1)]     # hi - 4096 + 4095 = hi - 1, hi, hi
    expect, hit = reference(p, biases, updates)
    assert expect == [hi - 1, lo, lo, hi] and hit == {"hi", "lo"}
    acc, _ = run_unit(p, biases, updates)
    assert acc == expect
