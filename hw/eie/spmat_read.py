"""Sparse-matrix read unit (EIE §III-B): one entry per cycle from the
sparse-matrix memory, ENTRIES_PER_WORD entries to a word.

It takes a column (value, start, count) from the activation queue on the
cycle it issues the column's first entry, then issues start+1 .. on the
following cycles, so a column of n entries occupies exactly n cycles and the
next column follows without a bubble. Columns may start mid-word and span
words: the word address is e >> log2(EPW) and the lane e % EPW is selected
when the word arrives. An empty column (count 0) at the queue head is
dropped in one cycle, even while a column is being issued.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .layouts import queue_layout, entry_layout
from .trees import delay

__all__ = ["SparseMatrixReadUnit"]


class SparseMatrixReadUnit(wiring.Component):
    """Ports:
    - `col` (in, stream): the activation queue's head; `col.ready` is
      combinational (the head is empty, or no column is being issued).
    - `raddr` (out, combinational) / `rdata` (in): the sparse-matrix memory,
      `rdata` `mem_latency` cycles after `raddr`.
    - `issue` (out, combinational): an entry address is issued this cycle;
      `active` (out): a column is being issued (more entries follow).
    - `dequeue` (out, combinational): the queue head is taken this cycle (empty
      or not).
    - entry outputs, `mem_latency` cycles after the issue: `e_valid`, `e` (v, z),
      `e_first` (the column's first entry), `e_value` (the column's activation).
    """

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
            "dequeue": Out(1),
            "e_valid": Out(1),
            "e": Out(entry_layout),
            "e_first": Out(1),
            "e_value": Out(signed(16)),
        })

    def elaborate(self, platform):
        m = Module()
        pw = self.params.ptr_width
        lat = self.params.mem_latency
        active = Signal()
        cur = Signal(pw, reset_less=True)
        left = Signal(self.params.count_width, reset_less=True)    # entries still to issue after `cur`, when active
        final = Signal()                # `cur` is the column's last entry (left == 0)
        value = Signal(signed(16), reset_less=True)
        head = self.col.payload
        load = Signal()
        addr = Signal(pw)
        last = Signal()
        m.d.comb += [
            self.col.ready.eq(head.empty | ~active),
            self.dequeue.eq(self.col.valid & self.col.ready),
            load.eq(self.col.valid & ~head.empty & ~active),
            self.issue.eq(active | load),
            self.active.eq(active),
            addr.eq(Mux(active, cur, head.start)),
            last.eq(Mux(active, final, head.single)),
            self.raddr.eq(addr >> self.lane_bits),
        ]
        with m.If(self.issue):
            m.d.sync += [cur.eq(addr + 1), active.eq(~last)]
        with m.If(load):
            m.d.sync += [left.eq(head.count - 2), final.eq(head.count == 2), value.eq(head.value)]
        with m.Elif(active):
            m.d.sync += [left.eq(left - 1), final.eq(left == 1)]
        # `mem_latency` cycles later the word is out of the memory: select the lane
        e_value = Signal(signed(16))
        lane = Signal(max(1, self.lane_bits))
        m.d.comb += [e_value.eq(Mux(active, value, head.value)),
                     lane.eq(addr[:self.lane_bits] if self.lane_bits else 0)]
        m.d.comb += [
            self.e_valid.eq(delay(m, self.issue, lat, name="e_valid")),
            self.e_first.eq(delay(m, load, lat, name="e_first")),
            self.e_value.eq(delay(m, e_value, lat, name="e_value", reset_less=True)),
        ]
        lane_q = delay(m, lane, lat, name="lane", reset_less=True)
        if self.lane_bits:
            m.d.comb += self.e.eq(self.rdata.word_select(lane_q, 8))
        else:
            m.d.comb += self.e.eq(self.rdata[:8])
        return m
