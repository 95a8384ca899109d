"""The simulated board's hardware: boards.top.BoardTop for a small simulated
board, with a stand-in platform whose clock, UART and LED pins become
top-level ports (`clk`, `uart_rx`, `uart_tx`, `leds` in STATUS_LEDS order).
The simulation around it is sim/board_harness.py; this file alone (with
hw/ and boards/) decides the generated Verilog, so the build cache is keyed
on it and not on the harness.
"""

import types

from amaranth import Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from ..boards.top import BoardTop, STATUS_LEDS
from ..sw.errors import LinkError

__all__ = ["TOPLEVEL", "CLOCKS_PER_BIT", "STATUS_LEDS", "SIM_WATCHDOG_CYCLES", "sim_top"]

TOPLEVEL = "board_top"
#: UART bit time in clock cycles (the simulated board's clock / its baud rate)
CLOCKS_PER_BIT = 4
_SIM_HZ = 12e6
#: the run watchdog the simulated board comes up with (a real board: one
#: second of its clock); a load sets its own from the model
SIM_WATCHDOG_CYCLES = 1 << 20


def _sim_board():
    from ..boards.board import Board, Resources
    return Board(name="sim", title="simulated board (cocotb)", platform=None, family="ice40",
                 resources=Resources(logic=0, dsp=0, bram=0), clock="clk", clock_hz=_SIM_HZ,
                 sync_hz=_SIM_HZ, eie={}, systolic={}, uart="uart",
                 baud=int(_SIM_HZ / CLOCKS_PER_BIT),
                 leds=tuple(("led", i) for i in range(len(STATUS_LEDS))))


SIM_BOARD = None     # built lazily (boards imports amaranth_boards only where needed)


class _SimPlatform:
    """Just enough platform for BoardTop: the clock pin becomes a top-level
    input port, the UART and LED pins plain signals the wrapper exposes."""

    def __init__(self):
        self._rx = io.SimulationPort("i", 1, name="pin_uart_rx")
        self._tx = io.SimulationPort("o", 1, name="pin_uart_tx")
        self._leds = [io.SimulationPort("o", 1, name=f"pin_led{i}") for i in range(len(STATUS_LEDS))]
        self.uart_rx = self._rx.i
        self.uart_tx = self._tx.o
        self.leds = [p.o for p in self._leds]

    def request(self, name, number=0, dir=None):
        if name == "clk":
            return io.SingleEndedPort(io.IOPort(1, name="clk"))
        if name == "uart":
            return types.SimpleNamespace(rx=self._rx, tx=self._tx)
        if name == "led":
            return self._leds[number]
        raise LinkError(f"the simulated board has no resource {name!r}")

    def lookup(self, name, number=0):
        if name != "uart":
            raise LinkError(f"the simulated board has no resource {name!r}")
        return types.SimpleNamespace(ios=[types.SimpleNamespace(name="rx"), types.SimpleNamespace(name="tx")])

    def get_io_buffer(self, buffer):
        """The UART and LED pins are plain signals the wrapper exposes; the
        clock pin is a real top-level port (Amaranth's own buffer)."""
        if not isinstance(buffer.port, io.SimulationPort):
            return type(buffer).elaborate(buffer, None)
        m = Module()
        if buffer.direction is io.Direction.Input:
            m.d.comb += buffer.i.eq(buffer.port.i)
        else:
            m.d.comb += buffer.port.o.eq(buffer.o)
        return m

    def add_clock_constraint(self, clk, hz):
        pass


class _SimTop(wiring.Component):
    """BoardTop with its pins as ports: uart_rx, uart_tx, leds (STATUS_LEDS
    order), plus the `clk` input port of the clock pin."""

    def __init__(self, top, platform):
        self.top, self.plat = top, platform
        super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
                          "leds": Out(len(STATUS_LEDS))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = self.top
        m.d.comb += [self.plat.uart_rx.eq(self.uart_rx), self.uart_tx.eq(self.plat.uart_tx)]
        m.d.comb += [self.leds[i].eq(s) for i, s in enumerate(self.plat.leds)]
        return m


def sim_top(params):
    """(component, platform) of the simulated board holding an EIE array."""
    global SIM_BOARD
    if SIM_BOARD is None:
        SIM_BOARD = _sim_board()
    top = BoardTop(SIM_BOARD, "eie", params, watchdog_seconds=SIM_WATCHDOG_CYCLES / _SIM_HZ)
    if top.clocks_per_bit != CLOCKS_PER_BIT:
        raise AssertionError(f"simulated board: {top.clocks_per_bit} clocks per bit")
    plat = _SimPlatform()
    return _SimTop(top, plat), plat
