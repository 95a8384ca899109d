"""The board top-level: clock, host link on the UART, one unit, status LEDs.

    oscillator ─ BoardClock (direct or PLL, reset until locked) ─ sync
    uart rx/tx ─ HostLink ─ host bus ─ EIEArray | SystolicUnit | NullUnit
                        start, abort ─>   busy, done, config_ok <─
    LEDs <─ heartbeat (solid once a model is loaded), busy, done, loaded,
            rx/tx activity, clock locked, unit error (as many as the board has)

The unit is sized by the board's defaults (boards/<board>.py) unless the
caller passes parameters; the host reads them back with IDENTIFY, so the
host refuses an image built for another configuration. The link's run
watchdog comes up at `watchdog_seconds` of the board's clock (one second
unless the caller says otherwise); an image load sets it from the model.

Every unit obeys the unit <-> link contract (hw/common/hostbus.py): `abort`
makes it idle within 64 cycles with its model memories intact, `config_ok`
says whether a start would run a valid configuration. A unit generated
without these ports still gets both here: `abort` becomes a synchronous
reset of the unit's logic (its memories keep their contents; its registers,
control registers included, return to their reset values), `config_ok` is 1.

`design="link"` carries boards.nullunit.NullUnit: the host link and the
board glue measured alone (`eiegen build --design link`).
"""

import dataclasses

from amaranth import Module, Signal, Elaboratable, Const, ClockDomain
from amaranth.hdl import ResetInserter
from amaranth.lib import io
from amaranth.lib.wiring import connect

from ..hw.common.hostlink import HostLink
from ..sw.link.protocol import DEFAULT_WATCHDOG_SECONDS, LINK_WORD_BYTES
from ..hw.eie.params import EIEParams, host_map
from ..hw.systolic.params import SystolicParams, TARGETS
from .clocking import BoardClock, unit_domain
from .board import BoardError

#: the host link's byte engine timing by family (hw/common/hostlink.py): the
#: program's word registered where block RAM is slow to answer (ECP5,
#: `code_latency` 2: four cycles an instruction instead of two; the RAM's byte too), and
#: the program split at 512 words on the iCE40 (`code_bank`: two block RAMs side by
#: side and the rest, a 2:1 multiplexer)
LINK_TIMING = {"ice40": {"code_latency": 1, "code_bank": 512},
               "ecp5": {"code_latency": 2}}

__all__ = ["BoardTop", "DESIGNS", "STATUS_LEDS", "DEFAULT_WATCHDOG_SECONDS", "unit_ports"]

DESIGNS = ("eie", "systolic", "link")

#: the status shown on the board's LEDs, in order of importance
STATUS_LEDS = ("heartbeat", "busy", "done", "loaded", "rx", "tx", "locked", "error")


def data_targets(design, params):
    """Targets whose writes are data (inputs, outputs, control), not the model:
    they do not clear the link's `loaded` flag (docs/host-link.md)."""
    if design == "eie":
        return host_map(params).data_targets
    if design == "systolic":
        return (TARGETS["regs"], TARGETS["ub"], TARGETS["acc"])
    return (0x00,)          # link: the null unit's one target


def data_bytes(design, params):
    """The widest word (in bytes) of any target the link can reach: the unit's and
    the link's own (its watchdog register). The link's bus word is this wide; a
    target that reports a wider word would be refused, and none does."""
    if design == "eie":
        unit = max(host_map(params).word_bytes().values())
    elif design == "systolic":
        unit = 8                # 64-bit instructions (and its default word size)
    else:
        from .nullunit import NULL_WORD_BYTES
        unit = NULL_WORD_BYTES
    return max(unit, LINK_WORD_BYTES)


class BoardTop(Elaboratable):
    """Parameters: `board` (boards.board.Board), `design` ("eie" or
    "systolic"), `params` (EIEParams / SystolicParams; default: the board's),
    `sync_hz` (default: the board's for the design), `loaded_at_reset` (the bitstream carries
    a whole model, so RUN is allowed without loading one first),
    `watchdog_seconds` (the link's run watchdog after reset; an image load
    sets its own)."""

    def __init__(self, board, design="eie", params=None, *, sync_hz=None, loaded_at_reset=False,
                 watchdog_seconds=DEFAULT_WATCHDOG_SECONDS):
        if design not in DESIGNS:
            raise BoardError(f"unknown design '{design}' (designs: {', '.join(DESIGNS)})")
        self.board, self.design = board, design
        if design == "link":
            if params is not None:
                raise BoardError("design 'link' (the host link with a null unit) takes no parameters")
        else:
            if params is None:
                params = board.eie_params() if design == "eie" else board.systolic_params()
            expected = EIEParams if design == "eie" else SystolicParams
            if not isinstance(params, expected):
                raise BoardError(f"design '{design}' takes {expected.__name__}, not {type(params).__name__}")
        self.params = params
        # (the clock's uptime counter gives the ~0.5-1 Hz heartbeat)
        self.clock = BoardClock(board.family, board.clock, board.clock_hz,
                                sync_hz or board.design_hz(design), heartbeat=True)
        self.sync_hz = self.clock.f_out
        self.clocks_per_bit = int(round(self.sync_hz / board.baud))
        self.loaded_at_reset = bool(loaded_at_reset)
        self.watchdog_cycles = max(1, min((1 << 32) - 1, int(round(watchdog_seconds * self.sync_hz))))

    def identify_params(self):
        if self.design == "link":
            from .nullunit import NULL_PARAMS
            return dict(NULL_PARAMS)
        fields = dataclasses.asdict(self.params)
        if self.design == "eie":
            from ..hw.eie.params import IDENTIFY_FIELDS
            return {k: fields[k] for k in IDENTIFY_FIELDS}
        return fields

    def host_link(self):
        """The host link this top puts beside its unit."""
        return HostLink(
            design=self.design, params=self.identify_params(),
            clocks_per_bit=self.clocks_per_bit, data_targets=data_targets(self.design, self.params),
            loaded_at_reset=self.loaded_at_reset, watchdog_cycles=self.watchdog_cycles,
            data_bytes=data_bytes(self.design, self.params),
            **LINK_TIMING.get(self.board.family, {}))

    def elaborate(self, platform):
        m = Module()
        board = self.board
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = clock = self.clock
        if self.design == "eie":
            from ..hw.eie.array import EIEArray
            unit = EIEArray(self.params)
        elif self.design == "systolic":
            from ..hw.systolic.top import SystolicUnit
            unit = SystolicUnit(self.params)
        else:
            from .nullunit import NullUnit
            unit = NullUnit()
        m.submodules.link = link = self.host_link()
        abort, config_ok = unit_ports(unit)
        # the unit on a reset of its own, a register (boards/clocking.py)
        in_domain = unit_domain(m, unit)
        if abort is None:
            m.submodules.unit = ResetInserter({"unit": link.abort})(in_domain)
        else:
            m.submodules.unit = in_domain
            m.d.comb += abort.eq(link.abort)
        connect(m, link.bus, unit.bus)
        m.d.comb += [unit.start.eq(link.start), link.busy.eq(unit.busy), link.done.eq(unit.done),
                     link.config_ok.eq(config_ok)]

        pins = [sub.name for sub in platform.lookup(board.uart, 0).ios]    # rx, tx (rts, dtr...)
        uart = platform.request(board.uart, 0, dir={name: "-" for name in pins})
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]

        # -- status LEDs --------------------------------------------------------------
        if board.leds:
            status = {
                "heartbeat": clock.uptime[-1] | link.loaded,      # period 0.5-1 s
                "busy": unit.busy,
                "done": unit.done,
                "loaded": link.loaded,
                "rx": _stretch(m, ~link.rx, self.sync_hz, "rx"),
                "tx": _stretch(m, ~link.tx, self.sync_hz, "tx"),
                "locked": clock.locked,
                "error": getattr(unit, "error", Const(0, 1)),
            }
            for (name, index), what in zip(board.leds, STATUS_LEDS):
                led = io.Buffer("o", platform.request(name, index, dir="-"))
                m.submodules[f"led_{what}"] = led
                m.d.comb += led.o.eq(status[what])
        return m


def unit_ports(unit):
    """(abort, config_ok) of a unit: its ports, or (None, Const(1)) where it
    was generated without them (see the module docstring)."""
    abort = getattr(unit, "abort", None)
    config_ok = getattr(unit, "config_ok", None)
    return abort, (config_ok if config_ok is not None else Const(1, 1))


def _stretch(m, pulse, hz, name):
    """`pulse` held for ~50 ms, so that a byte on the UART is visible."""
    n = max(1, int(hz * 0.05))
    count = Signal(range(n + 1), name=f"{name}_stretch")
    with m.If(pulse):
        m.d.sync += count.eq(n)
    with m.Elif(count != 0):
        m.d.sync += count.eq(count - 1)
    return count != 0
