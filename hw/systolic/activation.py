"""ActivationUnit: accumulators -> ReLU -> requantise -> unified buffer.

ACT acc=A ub=B n=N (dispatched at cycle d, with the multiplier M and shift
S of the last SETQ and `wait`, the cycles until every MMUL row issued so
far has been written to the accumulators) reads accumulator rows A..A+N-1
on N consecutive cycles from e = d + 1 + wait, and writes unified-buffer
row B+i (lanes 0..C-1) at e + i + 3:

    e + i     read accumulator row A+i
    e + i + 1 v = max(acc, 0) if relu else acc;  p = v * M         (DSP)
    e + i + 2 y = sat((p >> (S-1)) + 1 >> 1)  (S > 0) or sat(p)  (S = 0)
    e + i + 3 write y

((p >> (S-1)) + 1) >> 1 == floor((p + 2**(S-1)) / 2**S): round half up,
the golden model's requantize(). `busy` is high from dispatch to the last
write; the sequencer holds MMULs that would touch the rows still to be read
or written (acc_lo..acc_hi, ub_lo..ub_hi).
"""

from amaranth import Module, Signal, Mux, Const, signed, unsigned
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

__all__ = ["ActivationUnit"]


class ActivationUnit(wiring.Component):
    def __init__(self, params):
        self.params = p = params
        acc_abits = max(1, (p.acc_depth - 1).bit_length())
        ub_abits = max(1, (p.ub_depth - 1).bit_length())
        super().__init__({
            "start": In(1),
            "acc_addr": In(16),
            "ub_addr": In(16),
            "count": In(16),
            "relu": In(1),
            "mult": In(p.mult_width),
            "shift": In(8),
            "wait": In(range((1 << 16) + p.pipeline_depth)),
            "busy": Out(1),
            "acc_lo": Out(17), "acc_hi": Out(17),
            "ub_lo": Out(17), "ub_hi": Out(17),
            "acc_raddr": Out(acc_abits),
            "acc_rdata": In(data.ArrayLayout(signed(p.acc_width), p.cols)),
            "ub_waddr": Out(ub_abits),
            "ub_wdata": Out(data.ArrayLayout(signed(p.in_width), p.ub_lanes)),
            "ub_wlanes": Out(p.ub_lanes),
            "ub_we": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        C, W = p.cols, p.in_width
        P = p.product_width
        lo, hi = -(1 << (W - 1)), (1 << (W - 1)) - 1

        wait = Signal(range((1 << 16) + p.pipeline_depth))
        left = Signal(16)
        racc = Signal(16)
        rub = Signal(16)
        relu = Signal()
        mult = Signal(p.mult_width)
        shift = Signal(8)
        reading = Signal()
        m.d.comb += reading.eq((left != 0) & (wait == 0))
        with m.If(left != 0):
            with m.If(wait != 0):
                m.d.sync += wait.eq(wait - 1)
            with m.Else():
                m.d.sync += [left.eq(left - 1), racc.eq(racc + 1), rub.eq(rub + 1)]
        with m.If(self.start):
            m.d.sync += [wait.eq(self.wait), left.eq(self.count), racc.eq(self.acc_addr),
                         rub.eq(self.ub_addr), relu.eq(self.relu), mult.eq(self.mult),
                         shift.eq(self.shift),
                         self.acc_lo.eq(self.acc_addr), self.acc_hi.eq(self.acc_addr + self.count),
                         self.ub_lo.eq(self.ub_addr), self.ub_hi.eq(self.ub_addr + self.count)]
        m.d.comb += self.acc_raddr.eq(racc)

        # stage 1: the read row is on acc_rdata
        v1 = Signal()
        a1 = Signal(16)
        m.d.sync += [v1.eq(reading), a1.eq(rub)]
        prod = Signal(data.ArrayLayout(signed(P), C))
        v2 = Signal()
        a2 = Signal(16)
        m.d.sync += [v2.eq(v1), a2.eq(a1)]
        for c in range(C):
            acc = self.acc_rdata[c]
            v = Mux(relu & acc[-1], 0, acc)
            m.d.sync += prod[c].eq(v * mult)
        # stage 2: round half up, shift, saturate
        out = Signal(data.ArrayLayout(signed(W), C))
        v3 = Signal()
        a3 = Signal(16)
        m.d.sync += [v3.eq(v2), a3.eq(a2)]
        sm1 = Signal(8)
        m.d.comb += sm1.eq(shift - 1)
        for c in range(C):
            pc = prod[c]
            r = Signal(signed(P + 1), name=f"round{c}")
            m.d.comb += r.eq(Mux(shift == 0, pc, ((pc >> sm1) + 1) >> 1))
            m.d.sync += out[c].eq(Mux(r > hi, hi, Mux(r < lo, lo, r)))
        m.d.comb += [self.ub_we.eq(v3), self.ub_waddr.eq(a3),
                     self.ub_wlanes.eq((1 << C) - 1)]
        for c in range(C):
            m.d.comb += self.ub_wdata[c].eq(out[c])
        m.d.comb += self.busy.eq((left != 0) | v1 | v2 | v3)
        return m
