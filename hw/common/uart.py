"""8N1 UART: a receiver and a transmitter with a fixed number of clock cycles
per bit (the board's clock frequency divided by the baud rate, rounded).

A character is a start bit (0), eight data bits least significant first and
a stop bit (1); the line idles high.

UARTRx samples the pin through a two-flip-flop synchroniser (the pin is
asynchronous to the clock), finds the falling edge of a start bit, checks the
start bit again half a bit later (a shorter low pulse is a glitch and is
ignored), then samples each data bit and the stop bit in the middle of its
bit time. A character whose stop bit reads 0 is a framing error: it is
dropped, `error` pulses for one cycle, and the receiver waits for the line to
go high again before it looks for the next start bit (so a held-low line, a
"break", is one error). Received bytes leave on a stream; the receiver
cannot be stalled, so a byte that arrives while the previous one is still
waiting (valid and not ready) replaces it and `overrun` pulses.

UARTTx sends each byte of its input stream; `ready` is high while it is idle.
"""

from amaranth import Module, Signal, Cat, Const
from amaranth.lib import wiring, stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "MIN_CLOCKS_PER_BIT"]

MIN_CLOCKS_PER_BIT = 4


def _check_divisor(component, clocks_per_bit):
    if not isinstance(clocks_per_bit, int) or clocks_per_bit < MIN_CLOCKS_PER_BIT:
        component._MustUse__used = True         # a refused component is not "unused"
        raise ValueError(f"UART clocks_per_bit must be an integer >= {MIN_CLOCKS_PER_BIT}, "
                         f"got {clocks_per_bit!r}")


class UARTRx(wiring.Component):
    """The receiver.

    Ports:
        rx       In, the pin (idles high; asynchronous: two synchroniser
                 flip-flops, so it is seen 2 cycles late).
        data     Out stream of received bytes. A byte is offered (`valid`) from
                 the cycle after the middle of its stop bit, about 9.5 bit times
                 + 3 cycles after the start bit's falling edge on the pin, until
                 it is taken (`ready`). The receiver cannot be stalled.
        error    Out, a one-cycle pulse in the cycle the stop bit reads 0
                 (framing error; the character is dropped).
        overrun  Out, a one-cycle pulse when a new byte replaces one still
                 offered (valid and not ready) in that cycle.
    """

    def __init__(self, clocks_per_bit):
        _check_divisor(self, clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({
            "rx": In(1, init=1),
            "data": Out(stream.Signature(8)),
            "error": Out(1),
            "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cpb = self.clocks_per_bit
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1, stages=2)

        timer = Signal(range(cpb))
        bit = Signal(range(8))
        shreg = Signal(8)

        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)

        with m.FSM(name="rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(cpb // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"                 # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(cpb - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bit.eq(bit + 1),
                                 timer.eq(cpb - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                        m.d.comb += self.overrun.eq(self.data.valid & ~self.data.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """The transmitter.

    Ports:
        data  In stream of bytes to send; `ready` while idle. A byte taken in
              cycle t (valid and ready) is on `tx` from t + 1: start bit, eight
              data bits least significant first, stop bit, each clocks_per_bit
              cycles; `ready` is high again in cycle t + 10 * clocks_per_bit + 1,
              so bytes offered back to back go out one every
              10 * clocks_per_bit + 1 cycles.
        tx    Out, the pin (idles high; from a register).
    """

    def __init__(self, clocks_per_bit):
        _check_divisor(self, clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({
            "data": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        cpb = self.clocks_per_bit
        timer = Signal(range(cpb))
        left = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(shreg[0])

        with m.FSM(name="tx"):
            with m.State("IDLE"):
                m.d.comb += self.data.ready.eq(1)
                with m.If(self.data.valid):
                    m.d.sync += [shreg.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))),
                                 timer.eq(cpb - 1), left.eq(10)]
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(Cat(shreg[1:], Const(1, 1))), timer.eq(cpb - 1),
                                 left.eq(left - 1)]
                    with m.If(left == 1):
                        m.next = "IDLE"
        return m
