"""Arithmetic unit (EIE §III-B): 16-bit fixed-point multiply-accumulate.

Two stages after the decoded entry (row, activation a; the weight w comes
one cycle later, registered, from the weight decoder's memory):
  M1: w, a in the multiplier's input registers; the accumulator memory reads
      acc[row] (one cycle);
  M2: product w * a from the multiplier's output register; sum =
      sat_ACC(acc[row] + product) written back to acc[row];
  M3 (only where Timing.acc_write_stage, the ECP5): the sum is written from
      its register a cycle later, so the memory's write is not in the
      one-cycle accumulate loop (register -> add -> saturate -> register).
Where Timing.product_stage (large ECP5 arrays) an entry waits a cycle (M0)
before M1, and the product passes a slice register after the multiplier's
output register, so M2 takes it from next to the adder.
An entry in M2 whose row the entry just ahead wrote in the same cycle (it
read before that write) takes that sum from the bypass register instead
(with M3, the entry two ahead too, from a forward register); whether it must
is compared one stage earlier, so no comparison sits in front of the adder.
With late saturation and a LUT RAM accumulator the forward is chosen in M1,
between that sum and the memory's asynchronous read, into one register; and
with late saturation the bypass chooses after the adder, between the sums of
two (the loop's and the older word's), so its select is not on the loop.
Back-to-back updates of one row neither read stale data nor stall.
Saturation compares the sum's top bits with its sign.

Also on the accumulator memory (other phases, never with M1/M2):
- bias preload (INIT): `init_valid`/`init_row`/`bias` -> acc[row] = bias << FRAC
  in the same cycle;
- write-back read (WB): `wb_valid`/`wb_row` at t -> `wb_acc` at t + 1.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..common.dsp import registered_product
from ..common.ram import sync_read
from .trees import FANOUT_ATTR

__all__ = ["ArithmeticUnit"]


#: accumulator bits per copy of the bypass and forward selects (where they are copied)
SEL_GROUP = 8

#: the accumulator memory goes into LUT RAM, where the platform has it, up to this many bits
ACC_LUT_RAM_BITS = 4096


class ArithmeticUnit(wiring.Component):
    """The PE's multiply-accumulate on its accumulator memory.

    Ports:
        valid, row, a  In at cycle t (the cycle before M1): a decoded entry, its
                       accumulator row and its column's activation.
        w              In at t + 1 (M1): its weight (the decoder's synchronous
                       read of the same entry).
                       acc[row] is written at the end of t + 2 (M2), or of
                       t + 3 with the write stage (M3); a cycle later with
                       the product stage.
        busy           Out: M1, M2 (or M3), or M0 with the product stage, holds
                       an entry.
        flush          In: drop the entries in the MAC stages (abort).
        init_valid, init_row, bias
                       In (INIT): acc[init_row] = bias << FRAC at the end of the
                       cycle.
        wb_valid, wb_row
                       In (WB) at t -> `wb_acc` (Out) = acc[wb_row] at t + 1.
    """

    def __init__(self, params):
        self.params = params
        self.write_stage = params.timing.acc_write_stage
        self.product_stage = params.timing.product_stage
        self.late_saturation = params.timing.late_saturation
        rw = params.act_index_width
        aw = params.acc_width
        super().__init__({
            "valid": In(1),
            "row": In(rw),
            "w": In(signed(16)),
            "a": In(signed(16)),
            "init_valid": In(1),
            "init_row": In(rw),
            "bias": In(signed(16)),
            "wb_valid": In(1),
            "wb_row": In(rw),
            "wb_acc": Out(signed(aw)),
            "busy": Out(1),
            "flush": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        aw = p.acc_width
        rw = p.act_index_width
        # a small memory: LUT RAM where the platform has it (`eiegen_small_ram_style`)
        attrs = {"no_rw_check": 1}
        style = getattr(platform, "eiegen_small_ram_style", None)
        if style and p.act_depth * aw <= ACC_LUT_RAM_BITS:
            attrs["ram_style"] = style
        m.submodules.acc = acc = Memory(shape=signed(aw), depth=p.act_depth, init=[], attrs=attrs)
        acc_q = Signal(signed(aw), reset_less=True)
        rd_addr = Signal(rw)
        # with late saturation and an accumulator small enough for LUT RAM, the read is
        # asynchronous and its register is the one after the forward multiplexer (`older`
        # below); else a synchronous read
        early_older = self.late_saturation and p.act_depth * aw <= ACC_LUT_RAM_BITS
        if early_older:
            rd = acc.read_port(domain="comb")
            m.d.comb += rd.addr.eq(rd_addr)
        else:
            sync_read(m, acc, rd_addr, acc_q)
        wr = acc.write_port()

        valid, row = self.valid, self.row
        if self.product_stage:
            # M0: the entry waits for the product's extra register
            v0 = Signal()
            row0 = Signal(rw, reset_less=True)
            m.d.sync += [v0.eq(self.valid & ~self.flush), row0.eq(self.row)]
            valid, row = v0, row0
        # M1: multiplier input registers (product: M2, or M1 + 2 with the product stage),
        # accumulator read
        v1 = Signal()
        row1 = Signal(rw, reset_less=True)
        m.d.sync += [v1.eq(valid & ~self.flush), row1.eq(row)]
        # M2: product register, sum (written at the end of M2, or from a register in M3)
        v2 = Signal()
        row2 = Signal(rw, reset_less=True)
        m.d.sync += [v2.eq(v1 & ~self.flush), row2.eq(row1)]
        # the bypass select drives a multiplexer bit per accumulator bit at the head of the
        # loop: on the ECP5 (M = 2) a copy per 8 bits (the 8-PE array's critical path was
        # its one register -> 4.4 ns of routing to 32 multiplexers); one register elsewhere
        groups = [(lo, min(lo + SEL_GROUP, aw)) for lo in range(0, aw, SEL_GROUP)] \
            if self.write_stage else [(0, aw)]
        # (in large ECP5 arrays without a reset: they matter only with an entry in M2, and
        # v1 and v2 are reset; the PE's reset leaf -> 4.7 ns -> the row compare into them was
        # a 48-PE ULX3S build's critical path, 96.36 MHz)
        sel_rl = self.late_saturation
        bypass2 = [Signal(name=f"bypass2_{g}", reset_less=sel_rl, attrs={FANOUT_ATTR: 1})
                   for g in range(len(groups))]
        m.d.sync += [b.eq(v1 & v2 & (row1 == row2)) for b in bypass2]
        # the multiplier's input and product registers: the DSP block's own where it has
        # them (the ECP5: the weight decoder then hands over its codebook word unregistered;
        # a slice register -> route -> combinational MULT18X18D -> route -> slice register
        # was the 32-PE critical path, 13.8 ns), else slice registers (`w` registered by the
        # weight decoder)
        prod2 = registered_product(m, platform, self.w, self.a, name="mult")
        if prod2 is None:
            a1 = Signal(signed(16), reset_less=True)
            prod2 = Signal(signed(32), reset_less=True)
            m.d.sync += [a1.eq(self.a), prod2.eq(self.w * a1)]
        if self.product_stage:
            prod_q = Signal(signed(32), name="prod_q", reset_less=True)
            m.d.sync += prod_q.eq(prod2)
            prod2 = prod_q
        # the loop's register feeds the bypass multiplexer alone; where the sum is also
        # written and forwarded from a register (M3), that is a copy (kept apart by
        # synthesis), so that placement keeps the loop's register at its adder (pulled
        # towards the accumulator block RAM's write port, last_sum -> 3.78 ns -> the
        # bypass multiplexer was a 48-PE ULX3S build's critical path, 95.53 MHz)
        last_sum = Signal(signed(aw), reset_less=True,
                          attrs={FANOUT_ATTR: 1} if self.write_stage else {})
        base = Signal(signed(aw))
        wide = max(aw, 32) + 1
        full = Signal(signed(wide))
        ssum = Signal(signed(aw))
        if early_older:
            # M3 as below; the forward's choice is made in M1, between the entry two ahead's
            # saturated sum (in M3 then) and the memory's asynchronous read, into one
            # register: the older word's adder takes a register, not a multiplexer of
            # two registers chosen by a third (a 48-PE ULX3S build's critical path was a
            # forward select -> 6.4 ns -> the adder)
            v3 = Signal()
            row3 = Signal(rw, reset_less=True)
            out_sum = Signal(signed(aw), reset_less=True, attrs={FANOUT_ATTR: 1})
            m.d.sync += [v3.eq(v2 & ~self.flush), row3.eq(row2)]
            older = Signal(signed(aw), reset_less=True)
            out_sat = Signal(signed(aw))
            m.d.sync += older.eq(Mux(v1 & v3 & (row1 == row3), out_sat, rd.data))
            m.d.comb += acc_q.eq(older)             # WB reads (no entry in M1): the read
        elif self.write_stage:
            # M3: the sum of the entry ahead is written from a register (off the loop). An entry
            # in M1 reads before that write lands, so the entry two ahead (in M3) is forwarded
            # too, picked a stage early: no compare in front of the adder
            v3 = Signal()
            row3 = Signal(rw, reset_less=True)
            fwd2 = [Signal(name=f"fwd2_{g}", reset_less=sel_rl, attrs={FANOUT_ATTR: 1})
                    for g in range(len(groups))]
            fwd_val = Signal(signed(aw), reset_less=True)
            out_sum = Signal(signed(aw), reset_less=True, attrs={FANOUT_ATTR: 1})
            m.d.sync += [v3.eq(v2 & ~self.flush), row3.eq(row2),
                         *([] if self.late_saturation else [fwd_val.eq(out_sum)])]
            m.d.sync += [f.eq(v1 & v3 & (row1 == row3)) for f in fwd2]
            older = Signal(signed(aw))
            for f, (lo, hi) in zip(fwd2, groups):
                m.d.comb += older[lo:hi].eq(Mux(f, fwd_val[lo:hi], acc_q[lo:hi]))
        else:
            older = acc_q
        hi = (1 << (aw - 1)) - 1

        def saturated(raw, over, neg):
            # hi + 1 wraps to the minimum
            return Mux(over, Mux(neg, hi + 1, hi), raw)

        if self.late_saturation:
            # the sum's register holds it unsaturated, with its overflow and sign bits (a copy
            # per group of bits); the saturation is applied where it is read
            last_over = [Signal(name=f"last_over_{g}", reset_less=True, attrs={FANOUT_ATTR: 1})
                         for g in range(len(groups))]
            last_neg = [Signal(name=f"last_neg_{g}", reset_less=True, attrs={FANOUT_ATTR: 1})
                        for g in range(len(groups))]
            # two adders: the loop's (the sum ahead, saturated as its flags say, plus the
            # product) and the older word's; the bypass chooses between their sums, so it
            # is off the loop (its select -> 5.3 ns of routing -> the adder was a 48-PE
            # ULX3S build's critical path, 80.92 MHz), and the loop is its register, the
            # saturation's LUT, the adder and the choice
            sat_last = Signal(signed(aw))
            for o, n, (lo, hi_) in zip(last_over, last_neg, groups):
                m.d.comb += sat_last[lo:hi_].eq(saturated(last_sum, o, n)[lo:hi_])
            loop_sum = Signal(signed(wide))
            older_sum = Signal(signed(wide))
            m.d.comb += [loop_sum.eq(sat_last + prod2), older_sum.eq(older + prod2)]
            for b, (lo, hi_) in zip(bypass2, groups):
                m.d.comb += full[lo:hi_].eq(Mux(b, loop_sum[lo:hi_], older_sum[lo:hi_]))
            m.d.comb += full[aw:].eq(Mux(bypass2[-1], loop_sum[aw:], older_sum[aw:]))
        else:
            for b, (lo, hi_) in zip(bypass2, groups):
                m.d.comb += base[lo:hi_].eq(Mux(b, last_sum[lo:hi_], older[lo:hi_]))
            m.d.comb += full.eq(base + prod2)
        top = full[aw - 1:]                          # in range iff all equal (sign extension)
        in_range = (top == 0) | (top == (1 << len(top)) - 1)
        if not self.late_saturation:
            with m.If(in_range):
                m.d.comb += ssum.eq(full[:aw])
            with m.Else():
                m.d.comb += ssum.eq(Mux(full[-1], hi + 1, hi))   # hi + 1 wraps to the minimum
        if self.late_saturation:
            m.d.sync += [last_sum.eq(full[:aw]), *[o.eq(~in_range) for o in last_over],
                         *[n.eq(full[-1]) for n in last_neg]]
        else:
            m.d.sync += last_sum.eq(ssum)

        if self.late_saturation:
            out_over, out_neg = Signal(reset_less=True), Signal(reset_less=True)
            if not early_older:
                out_sat = Signal(signed(aw))
                m.d.sync += fwd_val.eq(out_sat)
            m.d.sync += [out_sum.eq(full[:aw]), out_over.eq(~in_range), out_neg.eq(full[-1])]
            m.d.comb += out_sat.eq(saturated(out_sum, out_over, out_neg))
            wv, wrow, wdata, busy = v3, row3, out_sat, v1 | v2 | v3
        elif self.write_stage:
            m.d.sync += out_sum.eq(ssum)
            wv, wrow, wdata, busy = v3, row3, out_sum, v1 | v2 | v3
        else:
            wv, wrow, wdata, busy = v2, row2, ssum, v1 | v2
        if self.product_stage:
            busy = busy | v0
        m.d.comb += [
            rd_addr.eq(Mux(self.wb_valid, self.wb_row, row1)),
            wr.en.eq(wv | self.init_valid),
            wr.addr.eq(Mux(wv, wrow, self.init_row)),
            wr.data.eq(Mux(wv, wdata, self.bias.as_signed() << p.frac)),
            self.wb_acc.eq(acc_q),
            self.busy.eq(busy),
        ]
        return m
