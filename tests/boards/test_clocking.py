# amaranth: UnusedElaboratable=no
"""boards/clocking.py: PLL settings obey each family's formula and limits,
impossible requests are refused, and (with the yowasp tools, `full`) they
are the settings icepll and ecppll choose."""

import os
import re
import subprocess

import pytest
from amaranth import Module, Signal, ResetSignal, ClockDomain
from amaranth.hdl import Fragment
from amaranth.lib import io
from amaranth.sim import Simulator

from eiegen.boards.clocking import pll_ice40, pll_ecp5, ClockError, BoardClock
from eiegen.sw import toolchain


@pytest.mark.parametrize("mhz", [16, 18, 24, 30, 36, 48, 60, 100])
def test_ice40_formula_and_limits(mhz):
    s = pll_ice40(12e6, mhz * 1e6)
    d = s.divs
    pfd = 12e6 / (d["DIVR"] + 1)
    assert 10e6 <= pfd <= 133e6
    assert 533e6 <= s.f_vco <= 1066e6 and s.f_vco == pytest.approx(pfd * (d["DIVF"] + 1))
    assert s.f_out == pytest.approx(s.f_vco / 2 ** d["DIVQ"])
    assert abs(s.f_out - mhz * 1e6) <= 0.5e6          # 12 MHz in: steps of at most 0.75 / 2 MHz


@pytest.mark.parametrize("mhz", [12.5, 25, 40, 50, 60, 75, 100])
def test_ecp5_formula_and_limits(mhz):
    s = pll_ecp5(25e6, mhz * 1e6)
    d = s.divs
    assert s.f_out == pytest.approx(25e6 / d["CLKI_DIV"] * d["CLKFB_DIV"])
    assert 400e6 <= s.f_vco <= 800e6 and s.f_vco == pytest.approx(s.f_out * d["CLKOP_DIV"])
    assert s.f_out == pytest.approx(mhz * 1e6, rel=1e-3)


def test_out_of_range_is_refused():
    with pytest.raises(ClockError, match="iCE40 PLL: 500.000 MHz"):
        pll_ice40(12e6, 500e6)
    with pytest.raises(ClockError, match="ECP5 PLL: 5.000 MHz"):
        pll_ecp5(25e6, 5e6)
    with pytest.raises(ClockError, match="no PLL support"):
        BoardClock("gowin", "clk", 27e6, 50e6)


def test_board_clock_direct_or_pll():
    direct = BoardClock("ice40", "clk12", 12e6, 12e6)
    assert direct.direct and direct.pll is None and direct.f_out == 12e6
    pll = BoardClock("ecp5", "clk25", 25e6, 40e6)
    assert not pll.direct and pll.f_out == pytest.approx(40e6)


class _PinPlatform:
    """Just enough platform for BoardClock in the Amaranth simulator: the
    oscillator pin is a simulation port the testbench toggles."""

    def __init__(self):
        self.pin = io.SimulationPort("i", 1, name="osc")

    def request(self, name, number=0, dir=None):
        return self.pin

    def get_io_buffer(self, buffer):
        m = Module()
        m.d.comb += buffer.i.eq(buffer.port.i)
        return m

    def add_clock_constraint(self, clk, hz):
        pass


def _run_clock(hz, cycles, heartbeat):
    """(sync reset, uptime) after each of `cycles` oscillator cycles of a direct clock."""
    clock = BoardClock("ice40", "osc", hz, hz, heartbeat=heartbeat)
    plat = _PinPlatform()
    m = Module()
    m.domains.sync = ClockDomain("sync")
    m.submodules.clock = clock
    rst = Signal()
    m.d.comb += rst.eq(ResetSignal("sync"))
    sim = Simulator(Fragment.get(m, plat))
    seen = []

    async def tb(ctx):
        for _ in range(cycles):
            ctx.set(plat.pin.i, 1)
            await ctx.delay(1 / hz / 2)
            ctx.set(plat.pin.i, 0)
            await ctx.delay(1 / hz / 2)
            seen.append((ctx.get(rst), ctx.get(clock.uptime)))

    sim.add_testbench(tb)
    sim.run()
    return clock, seen


@pytest.mark.parametrize("hz", [1e6, 12e6])
def test_reset_waits_15us_and_uptime_counts(hz):
    """`sync` stays in reset for at least 15 us of the clock after it runs
    (the iCE40's block RAMs read garbage for a few us after configuration),
    and not much longer (the power of two of cycles the uptime counter's bit
    gives, plus the synchronizer); the uptime counter counts every cycle and
    is as wide as a heartbeat of 0.5-1 s period needs (its top bit), or only as wide
    as the delay needs without one."""
    delay = int(15e-6 * hz)
    bound = 1 << (delay - 1).bit_length()
    clock, seen = _run_clock(hz, bound + 40, heartbeat=True)
    held = next(i for i, (rst, _) in enumerate(seen) if not rst)
    assert delay <= held <= bound + 8
    assert all(not rst for rst, _ in seen[held:])
    assert [u for _, u in seen] == list(range(1, len(seen) + 1))
    assert len(clock.uptime) == int(hz).bit_length() - 1
    assert 1 <= hz / (1 << len(clock.uptime)) < 2          # the top bit's period: 0.5-1 s
    plain = BoardClock("ice40", "osc", hz, hz)
    assert len(plain.uptime) == (delay - 1).bit_length() + 1


def _tool(name):
    env = toolchain.configure(dict(os.environ))
    return os.path.join(os.path.dirname(env["ICEPACK"]), f"yowasp-{name}"), env


@pytest.mark.full
@pytest.mark.bitstream
@pytest.mark.parametrize("mhz", [18, 30, 48])
def test_ice40_matches_icepll(mhz, tmp_path):
    exe, env = _tool("icepll")
    out = subprocess.run([exe, "-i", "12", "-o", str(mhz)], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    got = {k: int(v) for k, v in re.findall(r"^(DIVR|DIVF|DIVQ|FILTER_RANGE):\s+(\d+)", out, re.M)}
    achieved = float(re.search(r"F_PLLOUT:\s+([\d.]+) MHz \(achieved\)", out).group(1))
    s = pll_ice40(12e6, mhz * 1e6)
    assert s.f_out / 1e6 == pytest.approx(achieved, abs=1e-3)
    assert s.divs == got


@pytest.mark.full
@pytest.mark.bitstream
@pytest.mark.parametrize("mhz", [40, 48, 50, 75])
def test_ecp5_matches_ecppll(mhz, tmp_path):
    exe, env = _tool("ecppll")
    out = subprocess.run([exe, "-i", "25", "-o", str(mhz)], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    ref = int(re.search(r"Refclk divisor: (\d+)", out).group(1))
    fb = int(re.search(r"Feedback divisor: (\d+)", out).group(1))
    op = int(re.search(r"clkout0 divisor: (\d+)", out).group(1))
    s = pll_ecp5(25e6, mhz * 1e6)
    assert (s.divs["CLKI_DIV"], s.divs["CLKFB_DIV"], s.divs["CLKOP_DIV"]) == (ref, fb, op)


def test_unit_domain_resets_a_cycle_after_sync():
    """boards.clocking.unit_domain: the unit runs on the same clock, its
    reset one register behind sync's (asserted and released a cycle later)."""
    from amaranth import Elaboratable
    from eiegen.boards.clocking import unit_domain

    class Counter(Elaboratable):
        def __init__(self):
            self.count = Signal(8)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.count.eq(self.count + 1)
            return m

    top, ref, unit = Module(), Counter(), Counter()
    top.domains.sync = sync = ClockDomain("sync")
    top.submodules.ref = ref
    top.submodules.unit = unit_domain(top, unit)
    sim = Simulator(top)
    sim.add_clock(1e-6, domain="sync")
    seen = []

    async def tb(ctx):
        ctx.set(sync.rst, 1)
        await ctx.tick()
        ctx.set(sync.rst, 0)
        for _ in range(4):
            await ctx.tick()
            seen.append((ctx.get(ref.count), ctx.get(unit.count)))
        ctx.set(sync.rst, 1)
        await ctx.tick()
        seen.append((ctx.get(ref.count), ctx.get(unit.count)))
        await ctx.tick()
        seen.append((ctx.get(ref.count), ctx.get(unit.count)))

    sim.add_testbench(tb)
    sim.run()
    # the unit counts one cycle behind after the release, and is held a cycle later
    assert seen[:4] == [(1, 0), (2, 1), (3, 2), (4, 3)]
    assert seen[4] == (0, 4) and seen[5] == (0, 0)
