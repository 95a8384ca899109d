import random

import pytest
from amaranth import Module

from eiegen.hw.common.uart import UARTRx, UARTTx
from eiegen.sim.amaranth_sim import run, stream_get, stream_put


def line_levels(chars, cpb, *, gap=0, stop_bits=None, period=None):
    """Per-clock levels of an 8N1 line carrying `chars` (ints), `gap` idle
    cycles between characters. `stop_bits` optionally gives each character's
    stop-bit level; `period` (float) stretches or shrinks the bit time."""
    period = period or cpb
    bits = []
    for k, c in enumerate(chars):
        stop = 1 if stop_bits is None else stop_bits[k]
        bits.append([0] + [(c >> i) & 1 for i in range(8)] + [stop])
    levels = [1] * 7
    t = 0.0
    for frame in bits:
        start = len(levels)
        for i, b in enumerate(frame):
            end = start + round((i + 1) * period)
            levels += [b] * (end - len(levels))
        levels += [1] * gap
    return levels + [1] * (3 * cpb)


def run_rx(cpb, levels):
    dut = UARTRx(cpb)
    got, errors, overruns = [], [], []

    async def tb(ctx):
        ctx.set(dut.data.ready, 1)
        for cyc, lv in enumerate(levels):
            ctx.set(dut.rx, lv)
            await ctx.tick()
            if ctx.get(dut.data.valid):
                got.append(ctx.get(dut.data.payload))
            if ctx.get(dut.error):
                errors.append(cyc)
            if ctx.get(dut.overrun):
                overruns.append(cyc)

    run(dut, tb)
    return got, errors, overruns


@pytest.mark.parametrize("cpb", [4, 7, 16])
def test_rx_receives_bytes(cpb):
    rng = random.Random(cpb)
    chars = [0x00, 0xFF, 0x55, 0xAA, 0xA5] + [rng.randrange(256) for _ in range(15)]
    got, errors, overruns = run_rx(cpb, line_levels(chars, cpb, gap=0))
    assert got == chars
    assert errors == [] and overruns == []


@pytest.mark.parametrize("period_scale", [0.97, 1.03])
def test_rx_tolerates_baud_mismatch(period_scale):
    cpb = 16
    chars = [0x01, 0x80, 0x7E, 0xC3, 0x3C] * 2
    got, errors, _ = run_rx(cpb, line_levels(chars, cpb, period=cpb * period_scale))
    assert got == chars and errors == []


def test_rx_framing_error_drops_char_and_recovers():
    cpb = 8
    chars = [0x12, 0x34, 0x56]
    levels = line_levels(chars, cpb, gap=2 * cpb, stop_bits=[1, 0, 1])
    got, errors, _ = run_rx(cpb, levels)
    assert got == [0x12, 0x56]
    assert len(errors) == 1


def test_rx_break_is_one_error_and_glitch_is_ignored():
    cpb = 8
    levels = [1] * 10 + [0] * (30 * cpb) + [1] * (2 * cpb)       # break: line held low
    levels += [1] * 5 + [0] * 2 + [1] * (3 * cpb)                  # a 2-cycle glitch
    levels += line_levels([0x9C], cpb)
    got, errors, _ = run_rx(cpb, levels)
    assert got == [0x9C]
    assert len(errors) == 1


def test_rx_overrun_when_not_read():
    cpb = 4
    dut = UARTRx(cpb)
    levels = line_levels([1, 2, 3], cpb)
    seen = {"overrun": 0, "last": None}

    async def tb(ctx):
        ctx.set(dut.data.ready, 0)
        for lv in levels:
            ctx.set(dut.rx, lv)
            await ctx.tick()
            seen["overrun"] += ctx.get(dut.overrun)
        seen["last"] = ctx.get(dut.data.payload), ctx.get(dut.data.valid)

    run(dut, tb)
    assert seen["overrun"] == 2
    assert seen["last"] == (3, 1)


def decode_line(levels, cpb):
    """Decode an 8N1 line sampled once per clock (mid-bit sampling)."""
    out, i = [], 0
    while i < len(levels):
        if levels[i] == 0:
            mid = i + cpb // 2
            bits = [levels[mid + k * cpb] for k in range(10) if mid + k * cpb < len(levels)]
            if len(bits) < 10:
                raise AssertionError("truncated character on the line")
            assert bits[0] == 0 and bits[9] == 1, f"bad framing at cycle {i}: {bits}"
            out.append(sum(b << k for k, b in enumerate(bits[1:9])))
            i = mid + 9 * cpb
        else:
            i += 1
    return out


@pytest.mark.parametrize("cpb", [4, 9])
def test_tx_sends_bytes_back_to_back(cpb):
    rng = random.Random(10 + cpb)
    chars = [0xA5, 0x00, 0xFF] + [rng.randrange(256) for _ in range(10)]
    dut = UARTTx(cpb)
    levels = []

    async def producer(ctx):
        for c in chars:
            await stream_put(ctx, dut.data, c)

    async def line(ctx):
        for _ in range(len(chars) * 10 * cpb + 40):
            await ctx.tick()
            levels.append(ctx.get(dut.tx))

    run(dut, producer, line)
    assert decode_line(levels, cpb) == chars
    # back to back: the whole transfer takes exactly 10 bits per character
    first_low = levels.index(0)
    last_high_start = len(levels) - levels[::-1].index(0)      # after the last 0
    assert last_high_start - first_low <= len(chars) * 10 * cpb


@pytest.mark.parametrize("cpb", [4, 6])
def test_loopback_tx_to_rx(cpb):
    m = Module()
    m.submodules.tx = tx = UARTTx(cpb)
    m.submodules.rx = rx = UARTRx(cpb)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = random.Random(cpb)
    chars = [rng.randrange(256) for _ in range(25)]
    got = []
    budget = len(chars) * 10 * cpb + 10 * cpb
    cycle = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def producer(ctx):
        for c in chars:
            await stream_put(ctx, tx.data, c)

    async def consumer(ctx):
        for _ in chars:
            got.append(await stream_get(ctx, rx.data))
        cycle.append(cycle[0])
        # and nothing more on the line
        ctx.set(rx.data.ready, 1)
        for _ in range(10 * cpb):
            _, _, valid = await ctx.tick().sample(rx.data.valid)
            assert not valid, "a character nobody sent"

    run(m, producer, consumer, processes=[clock], timeout=budget + 20 * cpb)
    assert got == chars
    assert cycle[1] <= budget, "the characters went back to back"


def test_divisor_is_checked():
    with pytest.raises(ValueError, match="clocks_per_bit"):
        UARTRx(3)
    with pytest.raises(ValueError, match="clocks_per_bit"):
        UARTTx(2.5)
