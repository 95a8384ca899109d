"""A synchronous FIFO whose memory write does not wait for the decision to
keep the item.

lib.fifo.SyncFIFO writes its memory when `w_en & w_rdy`. In the EIE
activation queue that decision (keep the item in the FIFO, or put it
straight into the head register) depends on whether the head leaves in this
cycle, so the sparse-matrix read unit's `active` reached the LUT RAM's write
enable through four LUTs: the 32-PE ULX3S build's critical path (70.35 MHz,
docs/boards.md). Here the memory is written whenever `w_stage` is high and
the FIFO is not full, at the slot the next item will take; `w_en` only
decides whether the item counts (the write pointer and the level advance).
An item staged and not kept sits in a free slot and is overwritten by the
next one, so the FIFO's behaviour on its ports is SyncFIFO's (checked
formally against the register model, tests/hw/eie/test_formal.py).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib.fifo import FIFOInterface
from amaranth.lib.memory import Memory
from amaranth.hdl import Elaboratable

__all__ = ["StagedFIFO"]


def _incr(signal, modulo):
    if modulo == 2 ** len(signal):
        return signal + 1
    return Mux(signal == modulo - 1, 0, signal + 1)


class StagedFIFO(Elaboratable, FIFOInterface):
    """SyncFIFO (first-word fall-through, `level`, `w_rdy = level != depth`,
    `r_rdy = level != 0`) with one more input:

    w_stage  In(1): write `w_data` into the free slot at the write pointer
        (when not full). `w_en` keeps the item and must come with `w_stage`
        in the same cycle; `w_stage` alone leaves the FIFO's contents, level
        and outputs as they were.

    The memory's write enable, address and data therefore depend only on
    `w_stage`, `w_data` and the FIFO's own registers.
    """

    def __init__(self, *, width, depth):
        if depth < 1:
            raise ValueError(f"StagedFIFO: depth must be at least 1, not {depth}")
        super().__init__(width=width, depth=depth)
        self.w_stage = Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.w_rdy.eq(self.level != self.depth),
            self.r_rdy.eq(self.level != 0),
            self.w_level.eq(self.level),
            self.r_level.eq(self.level),
        ]
        do_read = self.r_rdy & self.r_en
        do_write = self.w_rdy & self.w_en

        storage = m.submodules.storage = Memory(shape=self.width, depth=self.depth, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="comb")
        produce = Signal(range(self.depth))
        consume = Signal(range(self.depth))
        m.d.comb += [
            w_port.addr.eq(produce),
            w_port.data.eq(self.w_data),
            w_port.en.eq(self.w_stage & self.w_rdy),
            r_port.addr.eq(consume),
            self.r_data.eq(r_port.data),
        ]
        with m.If(do_write):
            m.d.sync += produce.eq(_incr(produce, self.depth))
        with m.If(do_read):
            m.d.sync += consume.eq(_incr(consume, self.depth))
        with m.If(do_write & ~do_read):
            m.d.sync += self.level.eq(self.level + 1)
        with m.If(do_read & ~do_write):
            m.d.sync += self.level.eq(self.level - 1)
        return m
