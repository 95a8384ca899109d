"""WeightLoader: the weight memory and the path that shifts tiles into the array.

The TPU keeps weights in DRAM and stages them through a weight FIFO; here an
on-chip weight memory (block RAM, written by the host) holds the tiles, one
weight row (C lanes) per memory row, a tile being R consecutive rows.

RW w=A (dispatched by the sequencer at cycle d) reads rows A .. A+R-1 on
cycles l_i = d+1+i. Row i leaves the memory MEM_LATENCY = 2 cycles after
its read as a beat (value, valid, bank, tag=i) per column, goes through the
column Skew (column c is c cycles late) into the top of the array and
travels down; PE(i, c) keeps it in weight register `bank` at the end of
cycle l_i + 2 + c + i. An activation row issued (unified-buffer read) at
cycle q reaches PE(i, c) at q + 2 + i + c, where its weight is taken into the
multiplier. So the first row of a MMUL may issue the cycle after the tile's
last weight read (q > l_i + i for every i), and a new RW may overwrite a
bank from the cycle on which the last row using it issued (q <= l_i + i). The sequencer keeps one cycle more on the second
rule: it dispatches the RW at that cycle at the earliest, so reading starts
the cycle after (docs/systolic.md, "Timing").
"""

from amaranth import Module, Signal, signed
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .lane_memory import LaneMemory
from .layouts import weight_beat, tag_width
from .params import MEM_LATENCY
from .skew import Skew

__all__ = ["WeightLoader"]


class WeightLoader(wiring.Component):
    """Ports (an RW dispatched at cycle d):
        start, base, bank  In at d: load the tile of weight rows base ..
                           base + R - 1 into weight register `bank` of the PEs.
        busy               Out (register): reading the tile's rows, d + 1 ..
                           d + R (one row a cycle).
        last               Out (register): reading the tile's last row this cycle.
        last_next          Out (from registers): `last` in the next cycle unless
                           an RW is dispatched in this one (the sequencer
                           registers its issue checks a cycle ahead).
        cur_bank           Out: the bank being loaded (valid while busy).
        w_out              Out, C weight beats for the top of the array: row i
                           (read at l_i = d + 1 + i) leaves the memory
                           MEM_LATENCY cycles later, column c a further c cycles
                           later (the column Skew).

    The host reaches the rows through `memory` (a LaneMemory, read port 0).
    """

    def __init__(self, params):
        self.params = params
        p = params
        self.memory = LaneMemory(lanes=p.cols, lane_shape=signed(p.in_width), depth=p.wmem_depth,
                                 chunk_lanes=p.chunk_lanes(p.cols), bus_lane_bits=8 * p.lane_bytes,
                                 # written by the host only, which never reads in the cycle of
                                 # its write (and owns the read port then): no collision logic
                                 no_rw_check=True)
        super().__init__({
            "start": In(1),          # dispatch of RW
            "base": In(16),
            "bank": In(1),
            "busy": Out(1),
            "last": Out(1),          # reading the tile's last row this cycle
            "last_next": Out(1),     # last in the next cycle without a start in this one
            "cur_bank": Out(1),      # bank being loaded (valid while busy)
            "w_out": Out(data.ArrayLayout(weight_beat(p), p.cols)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.memory = mem = self.memory
        # no reset in the skew: beats in flight at a reset or abort reach the
        # array within C cycles and write weight registers that no MMUL reads
        # before an RW rewrites them (the sequencer forgets its loaded banks);
        # its reset net over every column was the 12 x 12 unit's critical path
        m.submodules.skew = skew = Skew(p.cols, weight_beat(p), reset_less=True)

        addr = Signal(16)
        left = Signal(range(p.rows + 1))
        tag = Signal(tag_width(p.rows))
        bank = Signal()
        busy, last = Signal(), Signal()     # left != 0, left == 1, as registers
        m.d.comb += [self.busy.eq(busy), self.last.eq(last), self.cur_bank.eq(bank),
                     self.last_next.eq(busy & (left == 2))]

        # beat control, delayed to line up with the memory's read data
        v_q, bank_q, tag_q = self.busy, bank, tag
        for k in range(MEM_LATENCY):
            v_n, bank_n = Signal(name=f"v_d{k + 1}"), Signal(name=f"bank_d{k + 1}")
            tag_n = Signal(tag_width(p.rows), name=f"tag_d{k + 1}")
            m.d.sync += [v_n.eq(v_q), bank_n.eq(bank_q), tag_n.eq(tag_q)]
            v_q, bank_q, tag_q = v_n, bank_n, tag_n
        m.d.comb += mem.raddr0.eq(addr)
        with m.If(busy):
            m.d.sync += [addr.eq(addr + 1), left.eq(left - 1), tag.eq(tag + 1), busy.eq(~last),
                         last.eq(left == 2)]
        with m.If(self.start):
            m.d.sync += [addr.eq(self.base), left.eq(p.rows), tag.eq(0), bank.eq(self.bank),
                         busy.eq(1), last.eq(p.rows == 1)]

        for c in range(p.cols):
            m.d.comb += [skew.i[c].data.eq(mem.rdata0[c]), skew.i[c].valid.eq(v_q),
                         skew.i[c].bank.eq(bank_q), skew.i[c].tag.eq(tag_q)]
        m.d.comb += self.w_out.eq(skew.o)
        return m
