"""PE (MAC cell): multiply-accumulate with two weight registers, weight beats."""

import numpy as np
from amaranth.sim import Simulator

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.pe import PE


def _sim(pe, body):
    sim = Simulator(pe)
    sim.add_clock(1e-6)

    async def tb(ctx):
        await body(ctx)

    sim.add_testbench(tb)
    sim.run()


def _load(ctx, pe, value, bank, tag, valid=1):
    ctx.set(pe.w_in, {"data": value, "valid": valid, "bank": bank, "tag": tag})


def test_mac_uses_the_bank_the_activation_selects():
    p = SystolicParams(rows=4, cols=4)
    pe = PE(p, row=2)

    async def body(ctx):
        _load(ctx, pe, -7, 0, 2)
        await ctx.tick()
        _load(ctx, pe, 5, 1, 2)
        await ctx.tick()
        _load(ctx, pe, 0, 0, 0, valid=0)
        for a, sel, psum, want in ((3, 0, 100, 100 - 21), (3, 1, 100, 115),
                                   (-128, 0, 0, 896), (127, 1, -1, 634)):
            ctx.set(pe.a_in, {"data": a, "sel": sel})
            ctx.set(pe.psum_in, psum)
            await ctx.tick()
            # registered outputs: one cycle after the inputs
            assert ctx.get(pe.psum_out) == want
            assert ctx.get(pe.a_out.data) == a and ctx.get(pe.a_out.sel) == sel

    _sim(pe, body)


def test_weight_kept_only_by_the_tagged_row_and_passed_down():
    p = SystolicParams(rows=4, cols=1)
    pe = PE(p, row=1)

    async def body(ctx):
        _load(ctx, pe, 9, 0, 1)
        await ctx.tick()
        assert ctx.get(pe.w_out.data) == 9 and ctx.get(pe.w_out.valid) == 1
        _load(ctx, pe, 44, 0, 3)        # for a PE further down: passes, not kept
        await ctx.tick()
        assert ctx.get(pe.w_out.data) == 44 and ctx.get(pe.w_out.tag) == 3
        _load(ctx, pe, 55, 0, 1, valid=0)   # not valid: not kept
        ctx.set(pe.a_in, {"data": 1, "sel": 0})
        ctx.set(pe.psum_in, 0)
        await ctx.tick()
        assert ctx.get(pe.psum_out) == 9

    _sim(pe, body)


def test_shadow_weight_loads_while_active_weight_computes():
    """A beat for bank 1 arriving while activations use bank 0 changes nothing
    for them; the next activation with sel=1 sees the new weight at once."""
    p = SystolicParams(rows=2, cols=1)
    pe = PE(p, row=0)

    async def body(ctx):
        _load(ctx, pe, 3, 0, 0)
        await ctx.tick()
        outs = []
        for k, (w1, sel) in enumerate(((-2, 0), (None, 0), (None, 1), (None, 1))):
            if w1 is not None:
                _load(ctx, pe, w1, 1, 0)
            else:
                _load(ctx, pe, 0, 0, 0, valid=0)
            ctx.set(pe.a_in, {"data": 10, "sel": sel})
            ctx.set(pe.psum_in, 0)
            await ctx.tick()
            outs.append(ctx.get(pe.psum_out))
        assert outs == [30, 30, -20, -20]

    _sim(pe, body)


def test_partial_sum_wraps_to_acc_width():
    p = SystolicParams(rows=1, cols=1, in_width=8, acc_width=16)
    pe = PE(p, row=0)

    async def body(ctx):
        _load(ctx, pe, 127, 0, 0)
        await ctx.tick()
        _load(ctx, pe, 0, 0, 0, valid=0)
        ctx.set(pe.a_in, {"data": 127, "sel": 0})
        ctx.set(pe.psum_in, 32767)
        await ctx.tick()
        want = (32767 + 127 * 127 + 2 ** 15) % 2 ** 16 - 2 ** 15
        assert ctx.get(pe.psum_out) == want

    _sim(pe, body)
