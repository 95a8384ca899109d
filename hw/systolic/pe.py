"""PE: one multiply-accumulate cell of the weight-stationary array.

Each cycle the PE multiplies the activation arriving from the left by one of
its two weight registers, adds the partial sum arriving from above and
passes the sum down; the activation moves on to the right. Which weight
register is used comes with the activation (`sel`), so the register not in
use is the shadow weight: the next tile's weight is written into it while
the current tile computes, and the first activation of the next MMUL
switches to it without a bubble.

Weights arrive from above as beats (value, valid, bank, tag) that travel
down the column one PE per cycle; the PE whose row equals the tag keeps the
value in register `bank`.

Registered outputs: a_out, psum_out, w_out (one cycle after the inputs).
psum_out = psum_in + a_in * w[sel], wrapped to acc_width bits: a multiplier
and adder that map to one DSP block.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import act_beat, weight_beat

__all__ = ["PE"]


class PE(wiring.Component):
    def __init__(self, params, row):
        self.params, self.row = params, row
        super().__init__({
            "a_in": In(act_beat(params)),
            "a_out": Out(act_beat(params)),
            "psum_in": In(signed(params.acc_width)),
            "psum_out": Out(signed(params.acc_width)),
            "w_in": In(weight_beat(params)),
            "w_out": Out(weight_beat(params)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        self.w0 = w0 = Signal(signed(p.in_width))
        self.w1 = w1 = Signal(signed(p.in_width))
        weight = Mux(self.a_in.sel, w1, w0)
        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.w_out.eq(self.w_in),
            self.psum_out.eq(self.psum_in + self.a_in.data * weight),
        ]
        with m.If(self.w_in.valid & (self.w_in.tag == self.row)):
            with m.If(self.w_in.bank):
                m.d.sync += w1.eq(self.w_in.data)
            with m.Else():
                m.d.sync += w0.eq(self.w_in.data)
        return m
