"""Sparse-matrix read unit (EIE §III-B): one entry per cycle from the
sparse-matrix memory, ENTRIES_PER_WORD entries to a word.

It takes a column (value, start, end) from the activation queue on the cycle
it issues the column's first entry, then issues start+1 .. end-1 on the
following cycles, so a column of n entries occupies exactly n cycles and the
next column follows without a bubble. Columns may start mid-word and span
words: the word address is e >> log2(EPW) and the lane e % EPW is selected
when the word arrives. An empty column (start == end) at the queue head is
dropped in one cycle, even while a column is being issued.

Timing: entry address e issued at cycle t -> (v, z, first, value) on the
entry outputs at t+1.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .layouts import queue_layout, entry_layout

__all__ = ["SparseMatrixReadUnit"]


class SparseMatrixReadUnit(wiring.Component):
    def __init__(self, params):
        self.params = params
        self.aw = max(1, ceil_log2(params.spmat_depth))
        self.lane_bits = exact_log2(params.entries_per_word)
        super().__init__({
            "col": In(stream.Signature(queue_layout(params))),
            "raddr": Out(self.aw),
            "rdata": In(params.spmat_width),
            "issue": Out(1),
            "active": Out(1),
            # entry outputs (one cycle after issue)
            "e_valid": Out(1),
            "e": Out(entry_layout),
            "e_first": Out(1),
            "e_value": Out(signed(16)),
        })

    def elaborate(self, platform):
        m = Module()
        pw = self.params.ptr_width
        active = Signal()
        cur = Signal(pw)
        end = Signal(pw)
        value = Signal(signed(16))
        head = self.col.payload
        head_empty = Signal()
        load = Signal()
        addr = Signal(pw)
        last = Signal()
        m.d.comb += [
            head_empty.eq(head.start == head.end),
            self.col.ready.eq(head_empty | ~active),
            load.eq(self.col.valid & ~head_empty & ~active),
            self.issue.eq(active | load),
            self.active.eq(active),
            addr.eq(Mux(active, cur, head.start)),
            last.eq((addr + 1) == Mux(active, end, head.end)),
            self.raddr.eq(addr >> self.lane_bits),
        ]
        with m.If(self.issue):
            m.d.sync += [cur.eq(addr + 1), active.eq(~last)]
        with m.If(load):
            m.d.sync += [end.eq(head.end), value.eq(head.value)]
        # one cycle later: the word is out of the memory; select the lane
        lane = Signal(max(1, self.lane_bits))
        m.d.sync += [
            self.e_valid.eq(self.issue),
            self.e_first.eq(load),
            self.e_value.eq(Mux(active, value, head.value)),
            lane.eq(addr[:self.lane_bits] if self.lane_bits else 0),
        ]
        if self.lane_bits:
            m.d.comb += self.e.eq(self.rdata.word_select(lane, 8))
        else:
            m.d.comb += self.e.eq(self.rdata[:8])
        return m
