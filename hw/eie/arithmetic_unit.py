"""Arithmetic unit (EIE §III-B): 16-bit fixed-point multiply-accumulate.

Three stages after the decoded entry (M1: row, weight, activation):
  M2: product w * a (16 x 16 -> 32 bits); accumulator read of the row
  M3: sum = sat_ACC(acc[row] + product); accumulator write
The accumulator memory is read in M2 and written in M3 (read-before-write),
so an entry in M3 whose row was written by the entry just ahead reads a stale
sum: the bypass register forwards that sum instead. Back-to-back updates of
one row therefore neither read stale data nor stall.

Also on the accumulator memory:
- bias preload: `init_valid`/`init_row` at cycle t, the bias word on
  `bias` at t+1 -> acc[row] = bias << FRAC written at t+1;
- write-back read: `wb_valid`/`wb_row` at t -> `wb_acc` (raw accumulator) with
  `wb_out_valid`/`wb_out_row` at t+1.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["ArithmeticUnit"]


class ArithmeticUnit(wiring.Component):
    def __init__(self, params):
        self.params = params
        rw = params.act_index_width
        aw = params.acc_width
        super().__init__({
            # M1: decoded entry
            "valid": In(1),
            "row": In(rw),
            "w": In(signed(16)),
            "a": In(signed(16)),
            # bias preload
            "init_valid": In(1),
            "init_row": In(rw),
            "bias": In(signed(16)),
            # write-back read
            "wb_valid": In(1),
            "wb_row": In(rw),
            "wb_out_valid": Out(1),
            "wb_out_row": Out(rw),
            "wb_acc": Out(signed(aw)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        aw = p.acc_width
        rw = p.act_index_width
        lo, hi = -(1 << (aw - 1)), (1 << (aw - 1)) - 1
        m.submodules.acc = acc = Memory(shape=signed(aw), depth=p.act_depth, init=[])
        rd = acc.read_port()
        wr = acc.write_port()

        # M2
        v2 = Signal()
        row2 = Signal(rw)
        w2 = Signal(signed(16))
        a2 = Signal(signed(16))
        m.d.sync += [v2.eq(self.valid), row2.eq(self.row), w2.eq(self.w), a2.eq(self.a)]
        # M3
        v3 = Signal()
        row3 = Signal(rw)
        prod3 = Signal(signed(32))
        m.d.sync += [v3.eq(v2), row3.eq(row2), prod3.eq(w2 * a2)]
        # bypass register: the sum written in the previous cycle
        last_valid = Signal()
        last_row = Signal(rw)
        last_sum = Signal(signed(aw))
        base = Signal(signed(aw))
        full = Signal(signed(max(aw, 32) + 1))
        ssum = Signal(signed(aw))
        m.d.comb += [
            base.eq(Mux(last_valid & (last_row == row3), last_sum, rd.data)),
            full.eq(base + prod3),
        ]
        with m.If(full > hi):
            m.d.comb += ssum.eq(hi)
        with m.Elif(full < lo):
            m.d.comb += ssum.eq(lo)
        with m.Else():
            m.d.comb += ssum.eq(full)
        m.d.sync += [last_valid.eq(v3), last_row.eq(row3), last_sum.eq(ssum)]

        # bias preload, one cycle behind its request (the bias memory's latency)
        init_v = Signal()
        init_row = Signal(rw)
        m.d.sync += [init_v.eq(self.init_valid), init_row.eq(self.init_row)]
        # write-back read
        wb_v = Signal()
        wb_row = Signal(rw)
        m.d.sync += [wb_v.eq(self.wb_valid), wb_row.eq(self.wb_row)]

        m.d.comb += [
            rd.addr.eq(Mux(self.wb_valid, self.wb_row, row2)),
            wr.en.eq(v3 | init_v),
            wr.addr.eq(Mux(v3, row3, init_row)),
            wr.data.eq(Mux(v3, ssum, self.bias.as_signed() << p.frac)),
            self.wb_out_valid.eq(wb_v),
            self.wb_out_row.eq(wb_row),
            self.wb_acc.eq(rd.data),
            self.busy.eq(v2 | v3),
        ]
        return m
