"""NullUnit: the smallest unit a board top can carry, to measure the host
link and the board glue alone (`eiegen build --design link`).

It serves the host bus as the unit contract asks of every unit
(hw/common/hostbus.py), with one register and no memory:

    target 0x00, PE 0, word 0, 2 bytes (a data target): the run length in
    cycles (read/write; 0 is an invalid configuration)

`start` makes it busy for `run length` cycles, then `done`; `config_ok`
(a register: a cycle after a write) is low while the run length is 0 (a
start then does nothing); `abort` makes it idle on the next cycle. Reads
answer one cycle after `re`. Its address decode is registered, as the
contract allows (addr_ok a cycle late; the link holds an address two
cycles before it looks or writes).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..hw.common.hostbus import HostBusSignature

__all__ = ["NullUnit", "NULL_TARGET", "NULL_PARAMS", "NULL_WORD_BYTES"]

NULL_TARGET = 0x00
#: bytes of its one word on the link
NULL_WORD_BYTES = 2
#: what the link's IDENTIFY reports for this unit
NULL_PARAMS = {"words": 1}


class NullUnit(wiring.Component):
    """Ports: `bus` (host bus target), `start`, `abort` (one-cycle pulses),
    `busy`, `done`, `config_ok`."""

    def __init__(self):
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "abort": In(1),
            "busy": Out(1),
            "done": Out(1),
            "config_ok": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        length = Signal(16)
        left = Signal(16)
        ok = Signal()                   # registered: the link holds addr for two cycles first
        m.d.sync += ok.eq(bus.addr == (NULL_TARGET << 24))
        # config_ok registered too (a RUN comes long after the write that sets the length)
        m.d.sync += self.config_ok.eq(length != 0)
        m.d.comb += [bus.addr_ok.eq(ok), bus.word_bytes.eq(NULL_WORD_BYTES)]
        with m.If(bus.we & ok):
            m.d.sync += length.eq(bus.wdata[:16])
        # (rdata is the register itself: the link takes it with rvalid, a cycle after re)
        m.d.sync += bus.rvalid.eq(bus.re)
        m.d.comb += bus.rdata.eq(length)

        with m.If(self.abort):
            m.d.sync += [self.busy.eq(0), self.done.eq(0)]
        with m.Elif(self.start & ~self.busy & self.config_ok):
            m.d.sync += [self.busy.eq(1), self.done.eq(0), left.eq(length)]
        with m.Elif(self.busy):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        return m
