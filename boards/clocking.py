"""The board's `sync` clock: straight from the oscillator, or through a PLL.

`pll_ice40` and `pll_ecp5` compute PLL settings the way icepll and ecppll do
(tests/boards/test_clocking.py checks them against the yowasp tools);
`BoardClock` instantiates the PLL (SB_PLL40_PAD / EHXPLLL) or a plain input
buffer, and holds the `sync` domain in reset until the PLL has locked.
"""

import dataclasses

from amaranth import Module, Signal, ClockDomain, ClockSignal, Instance, Const, Elaboratable, ResetSignal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from ..hw.eie.trees import FANOUT_ATTR, own_reset
from ..sw.errors import EiegenError

__all__ = ["PLLSettings", "pll_ice40", "pll_ecp5", "BoardClock", "ClockError", "unit_domain"]


class ClockError(EiegenError):
    """A clock frequency the board's oscillator and PLL cannot make."""


@dataclasses.dataclass(frozen=True)
class PLLSettings:
    family: str
    f_in: float          # Hz
    f_out: float         # Hz, achieved
    f_vco: float         # Hz
    divs: dict           # family-specific dividers

    @property
    def mhz(self):
        return self.f_out / 1e6


def pll_ice40(f_in, f_req):
    """SB_PLL40 in SIMPLE feedback mode (icepll's search):
    f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ), with
    10 <= f_pfd <= 133 MHz, 533 <= f_vco <= 1066 MHz, 16 <= f_out <= 275 MHz."""
    fin, req = f_in / 1e6, f_req / 1e6
    if not 16 <= req <= 275:
        raise ClockError(f"iCE40 PLL: {req:.3f} MHz is outside the PLL's output range 16-275 MHz")
    best = None
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                if best is None or abs(out - req) < abs(best[0] - req):
                    best = (out, vco, pfd, divr, divf, divq)
    if best is None:
        raise ClockError(f"iCE40 PLL: no setting makes {req:.3f} MHz from {fin:.3f} MHz")
    out, vco, pfd, divr, divf, divq = best
    filt = (1 if pfd < 17 else 2 if pfd < 26 else 3 if pfd < 44 else 4 if pfd < 66
            else 5 if pfd < 101 else 6)
    return PLLSettings("ice40", f_in, out * 1e6, vco * 1e6,
                       {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filt})


def pll_ecp5(f_in, f_req):
    """EHXPLLL with CLKOP feedback (ecppll's search):
    f_out = f_in / CLKI_DIV * CLKFB_DIV, f_vco = f_out * CLKOP_DIV, with
    f_pfd >= 3.125 MHz and 400 <= f_vco <= 800 MHz; ties go to f_vco nearest 600 MHz."""
    fin, req = f_in / 1e6, f_req / 1e6
    if not 10 <= req <= 400:
        raise ClockError(f"ECP5 PLL: {req:.3f} MHz is outside the PLL's output range 10-400 MHz")
    best = None
    for idiv in range(1, 129):
        pfd = fin / idiv
        if not 3.125 <= pfd <= 400:
            continue
        for fbdiv in range(1, 81):
            out = pfd * fbdiv
            for odiv in range(1, 129):
                vco = out * odiv
                if not 400 <= vco <= 800:
                    continue
                err = abs(out - req)
                if (best is None or err < best[0] - 1e-9 or
                        (abs(err - best[0]) <= 1e-9 and abs(vco - 600) < abs(best[2] - 600))):
                    best = (err, out, vco, idiv, fbdiv, odiv)
    if best is None:
        raise ClockError(f"ECP5 PLL: no setting makes {req:.3f} MHz from {fin:.3f} MHz")
    _, out, vco, idiv, fbdiv, odiv = best
    return PLLSettings("ecp5", f_in, out * 1e6, vco * 1e6,
                       {"CLKI_DIV": idiv, "CLKFB_DIV": fbdiv, "CLKOP_DIV": odiv,
                        "CLKOP_CPHASE": max(0, odiv // 2 - 1)})


class BoardClock(Elaboratable):
    """Drives the `sync` domain (which the parent defines) at `f_out` from the
    board's oscillator resource `source` (frequency `f_in`): directly when
    they are equal, else through the family's PLL. `sync` stays in reset until
    the PLL locks (and for 15 us after configuration); `locked` is exposed
    for a status LED. `uptime` counts cycles since the clock locked, wrapping:
    the reset's delay is one of its bits, and with `heartbeat` it is wide
    enough for its top bit to blink a LED with a period of 0.5-1 s (one
    counter for both)."""

    def __init__(self, family, source, f_in, f_out, *, heartbeat=False):
        self.family, self.source, self.f_in = family, source, f_in
        self.direct = abs(f_out - f_in) < 1.0
        if self.direct:
            self.pll = None
            self.f_out = f_in
        elif family == "ice40":
            self.pll = pll_ice40(f_in, f_out)
            self.f_out = self.pll.f_out
        elif family == "ecp5":
            self.pll = pll_ecp5(f_in, f_out)
            self.f_out = self.pll.f_out
        else:
            raise ClockError(f"no PLL support for FPGA family '{family}'")
        self.locked = Signal()
        # the 15 us before `sync` leaves reset: a power of two of cycles, the counter's bit
        delay = max(1, int(15e-6 * self.f_out))
        self._por_bit = max(1, (delay - 1).bit_length())
        beat_bits = max(1, int(self.f_out).bit_length() - 1) if heartbeat else 0
        self.uptime = Signal(max(self._por_bit + 1, beat_bits))

    def elaborate(self, platform):
        m = Module()
        clk = Signal(attrs={"keep": 1})         # (its name carries the clock constraint)
        locked = Signal()
        if self.direct:
            pin = platform.request(self.source, 0, dir="-")
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            m.d.comb += [clk.eq(buf.i), locked.eq(1)]
        elif self.family == "ice40":
            pin = platform.request(self.source, 0, dir="-")
            d = self.pll.divs
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=Const(d["DIVR"], 4), p_DIVF=Const(d["DIVF"], 7),
                p_DIVQ=Const(d["DIVQ"], 3), p_FILTER_RANGE=Const(d["FILTER_RANGE"], 3),
                i_PACKAGEPIN=pin.io,
                i_RESETB=Const(1, 1), i_BYPASS=Const(0, 1),
                o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        else:
            pin = platform.request(self.source, 0, dir="-")
            m.submodules.clk_buf = buf = io.Buffer("i", pin)
            d = self.pll.divs
            clkop = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{self.f_in / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.f_out / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=d["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=d["CLKOP_DIV"],
                p_CLKOP_CPHASE=d["CLKOP_CPHASE"], p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=d["CLKFB_DIV"],
                i_RST=Const(0, 1), i_STDBY=Const(0, 1), i_CLKI=buf.i,
                o_CLKOP=clkop, i_CLKFB=clkop,
                i_PHASESEL0=Const(0, 1), i_PHASESEL1=Const(0, 1), i_PHASEDIR=Const(1, 1),
                i_PHASESTEP=Const(1, 1), i_PHASELOADREG=Const(1, 1),
                i_PLLWAKESYNC=Const(0, 1), i_ENCLKOP=Const(0, 1),
                o_LOCK=locked)
            m.d.comb += clk.eq(clkop)
        # hold `sync` in reset until the clock is stable and 15 us have passed
        # (iCE40 block RAMs read garbage for a few us after configuration);
        # ResetSynchronizer releases it synchronously
        m.domains.por = cd_por = ClockDomain("por", reset_less=True)
        m.d.comb += [cd_por.clk.eq(clk), ClockSignal("sync").eq(clk)]
        # (`uptime` counts from the lock; the delay is over once its bit _por_bit has
        # been set, at least 15 us later)
        por = Signal(init=1)                      # still waiting
        with m.If(~locked):
            m.d.por += [self.uptime.eq(0), por.eq(1)]
        with m.Else():
            m.d.por += self.uptime.eq(self.uptime + 1)
            with m.If(self.uptime[self._por_bit]):
                m.d.por += por.eq(0)
        # the synchronizer sits by the PLL, in a corner of the die; one more register (placed
        # by nextpnr among the reset's users) drives `sync`'s reset, so no path from the
        # corner to a far register crosses the die with logic on it (the 32-PE ULX3S
        # build's critical path: synchronizer -> 7.3 ns -> reset-or-flush LUT -> 7.4 ns)
        m.domains.rst_sync = cd_rst = ClockDomain("rst_sync", local=True)
        m.d.comb += cd_rst.clk.eq(clk)
        m.submodules.reset_sync = ResetSynchronizer(~locked | por, domain="rst_sync", stages=4)
        rst_out = Signal(init=1)
        m.d.por += rst_out.eq(cd_rst.rst)
        m.d.comb += ResetSignal("sync").eq(rst_out)
        m.d.comb += self.locked.eq(locked)
        platform.add_clock_constraint(clk, self.f_out)
        return m


def unit_domain(m, unit):
    """`unit` (an elaboratable of the `sync` domain) put into a domain `unit`
    of `m` on the same clock, whose reset is a register of sync's reset
    (kept apart by synthesis, so the placer puts it by the unit): the sync
    reset's one net from the clock's corner to the unit's central registers
    was the 32-PE ULX3S build's critical path (7.5 ns of routing). The unit
    leaves reset a cycle after `sync`. Returns the renamed unit."""
    rst = Signal(init=1, reset_less=True, name="unit_rst", attrs={FANOUT_ATTR: 1})
    m.d.sync += rst.eq(ResetSignal("sync"))
    return own_reset(m, unit, "unit", rst)
