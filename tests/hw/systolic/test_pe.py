"""PE (MAC cell): multiply-accumulate with two weight registers, weight beats,
and its pipeline (PE_LATENCY: psum_in two cycles after the activation,
psum_out three cycles after it)."""

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.params import PE_LATENCY
from eiegen.hw.systolic.pe import PE
from eiegen.sim.amaranth_sim import run


def _load(ctx, pe, value, bank, tag, valid=1):
    ctx.set(pe.w_in, {"data": value, "valid": valid, "bank": bank, "tag": tag})


async def _stream(ctx, pe, items):
    """items: (a, sel, psum_in) per cycle from now; psum_in is presented two
    cycles after its activation, as the PE above would. Returns psum_out
    PE_LATENCY cycles after each activation, and a_out one cycle after."""
    n = len(items)
    outs, a_outs = [], []
    for t in range(n + PE_LATENCY):
        if t < n:
            a, sel, _ = items[t]
            ctx.set(pe.a_in, {"data": a, "sel": sel})
        if 0 <= t - 2 < n and pe.row > 0:
            ctx.set(pe.psum_in, items[t - 2][2])
        await ctx.tick()
        if t < n:
            a_outs.append((ctx.get(pe.a_out.data), ctx.get(pe.a_out.sel)))
        if 0 <= t + 1 - PE_LATENCY < n:
            outs.append(ctx.get(pe.psum_out))
    return outs, a_outs


def test_mac_uses_the_bank_the_activation_selects_pipelined():
    p = SystolicParams(rows=4, cols=4)
    pe = PE(p, row=2)
    items = [(3, 0, 100), (3, 1, 100), (-128, 0, 0), (127, 1, -1), (-5, 0, 7)]

    async def body(ctx):
        _load(ctx, pe, -7, 0, 2)
        await ctx.tick()
        _load(ctx, pe, 5, 1, 2)
        await ctx.tick()
        _load(ctx, pe, 0, 0, 0, valid=0)
        outs, a_outs = await _stream(ctx, pe, items)
        # a new activation every cycle, each result PE_LATENCY cycles later
        assert outs == [100 - 21, 115, 896, 634, 42]
        assert a_outs == [(a, sel) for a, sel, _ in items]

    run(pe, body)


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
        outs, _ = await _stream(ctx, pe, [(1, 0, 0)])
        assert outs == [9]

    run(pe, body)


def test_shadow_weight_loads_while_active_weight_computes():
    """A beat for bank 1 arriving while activations use bank 0 changes nothing
    for them; the next activation with sel=1 sees the new weight at once."""
    p = SystolicParams(rows=2, cols=1)
    pe = PE(p, row=0)

    async def body(ctx):
        _load(ctx, pe, 3, 0, 0)
        await ctx.tick()
        outs = []
        for t, (w1, sel) in enumerate(((-2, 0), (None, 0), (None, 1), (None, 1),
                                       (None, 0), (None, 0), (None, 0))):
            if w1 is not None:
                _load(ctx, pe, w1, 1, 0)
            else:
                _load(ctx, pe, 0, 0, 0, valid=0)
            ctx.set(pe.a_in, {"data": 10, "sel": sel})
            await ctx.tick()
            outs.append(ctx.get(pe.psum_out))
        # the results of the activations of cycles 0..3, PE_LATENCY - 1 ticks late
        assert outs[PE_LATENCY - 1:PE_LATENCY + 3] == [30, 30, -20, -20]

    run(pe, body)


def test_partial_sum_wraps_to_acc_width():
    p = SystolicParams(rows=2, cols=1, in_width=8, acc_width=16)
    pe = PE(p, row=1)
    assert p.psum_width(1) == 16            # min(acc_width, 2 * 8 + 1)

    async def body(ctx):
        _load(ctx, pe, 127, 0, 1)
        await ctx.tick()
        _load(ctx, pe, 0, 0, 0, valid=0)
        outs, _ = await _stream(ctx, pe, [(127, 0, 32767)])
        want = (32767 + 127 * 127 + 2 ** 15) % 2 ** 16 - 2 ** 15
        assert outs == [want]

    run(pe, body)


def test_partial_sum_width_grows_with_the_row():
    p = SystolicParams(rows=12, cols=1)
    assert [p.psum_width(r) for r in (0, 1, 2, 3, 4, 7, 8, 11)] == [16, 17, 18, 18, 19, 19, 20, 20]
    # the widest partial sum of row r holds (r + 1) products of -128 * -128
    for r in range(12):
        assert (r + 1) * 128 * 128 <= (1 << (p.psum_width(r) - 1)) - 1 or \
            p.psum_width(r) == p.acc_width
