"""PE: one multiply-accumulate cell of the weight-stationary array.

Each cycle the PE takes the activation arriving from the left and one of its
two weight registers into its multiplier, and adds the product to the
partial sum arriving from above; the activation moves on to the right. Which
weight register is used comes with the activation (`sel`), so the register
not in use is the shadow weight: the next tile's weight is written into it
while the current tile computes, and the first activation of the next MMUL
switches to it without a bubble.

Weights arrive from above as beats (value, valid, bank, tag) that travel
down the column one PE per cycle; the PE whose row equals the tag keeps the
value in register `bank`.

The three registers are the DSP block's own: SB_MAC16 takes its input,
pipeline and output registers and the adder (Yosys `ice40_dsp`; the next
PE's DSP adds psum_in through its C/D inputs without a register); on the ECP5
the input and product registers are the MULT18X18D's input and output
registers, instantiated (hw/common/dsp.py: Yosys would leave them in slices),
and the adder is logic. None of them has a reset (DSP registers have none to spare), and the
partial sum is only as wide as row + 1 products need (params.psum_width).
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..common.dsp import registered_product
from .layouts import act_beat, weight_beat

__all__ = ["PE"]


class PE(wiring.Component):
    """One MAC cell; ports and timing (PE_LATENCY = 3, hw/systolic/params.py):

        a_in    In   activation and its bank select, valid at cycle t
        a_out   Out  a_in registered: at t + 1 (the next PE to the right)
        w_in    In   weight beat; kept at the end of the cycle it arrives
        w_out   Out  w_in registered (the PE below)
        psum_in In   partial sum from the PE above, for the activation of cycle t,
                     at t + 2 (the PE above got it one cycle earlier); row 0 has none
        psum_out Out psum_in + a * w at t + 3

        t      a and w[sel] into the multiplier's input registers
        t + 1  product register (a * w, 2 * in_width bits)
        t + 2  partial-sum register: psum_in + product
    """

    def __init__(self, params, row, *, site=None):
        # `site`: where the multiplier goes on the device (hw/systolic/floorplan.py)
        self.params, self.row, self.site = params, row, site
        ports = {
            "a_in": In(act_beat(params)),
            "a_out": Out(act_beat(params)),
            "psum_out": Out(signed(params.psum_width(row))),
            "w_in": In(weight_beat(params)),
            "w_out": Out(weight_beat(params)),
        }
        if row > 0:
            ports["psum_in"] = In(signed(params.psum_width(row - 1)))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        W = p.in_width
        # No resets: the weight registers are read only after a tile was
        # loaded into them (the sequencer refuses an MMUL on a bank no RW
        # wrote since it started), the activations only with the weights, and
        # a weight beat in flight when the reset comes leaves the array R
        # cycles later, long before a program can run again; so the domain's
        # reset, one net over the die, reaches no PE (it was the 12 x 12
        # array's critical path, 11.55 ns of routing to a beat's valid bit)
        self.w0 = w0 = Signal(signed(W), reset_less=True)
        self.w1 = w1 = Signal(signed(W), reset_less=True)
        a_out = Signal.like(self.a_out, reset_less=True)
        w_out = Signal.like(self.w_out, reset_less=True)
        m.d.sync += [a_out.eq(self.a_in), w_out.eq(self.w_in)]
        m.d.comb += [self.a_out.eq(a_out), self.w_out.eq(w_out)]
        with m.If(self.w_in.valid & (self.w_in.tag == self.row)):
            with m.If(self.w_in.bank):
                m.d.sync += w1.eq(self.w_in.data)
            with m.Else():
                m.d.sync += w0.eq(self.w_in.data)

        a_q = Signal(signed(W), reset_less=True)
        w_q = Signal(signed(W), reset_less=True)
        # row 0 has no adder: `keep` on its product register's output stops
        # ice40_dsp from taking the partial-sum register as the DSP's second
        # pipeline register, which this Yosys maps to a constant 0 output
        prod = Signal(signed(2 * W), reset_less=True, attrs={"keep": 1} if self.row == 0 else {})
        # `keep` on the partial-sum register's output: Yosys' ice40_dsp would
        # otherwise take this register both as this DSP's output register and
        # as the next PE's C/D input register, and lose the connection between
        # the two DSPs (the next PE's adder input then dangles)
        psum = Signal(signed(p.psum_width(self.row)), reset_less=True, attrs={"keep": 1})
        # on the ECP5 the DSP's own input and output registers are a_q/w_q and
        # prod (Yosys would map the multiply without them, hw/common/dsp.py)
        dsp = registered_product(m, platform, self.a_in.data, Mux(self.a_in.sel, w1, w0),
                                 name="mult", site=self.site)
        if dsp is not None:
            m.d.comb += prod.eq(dsp)
        else:
            m.d.sync += [a_q.eq(self.a_in.data), w_q.eq(Mux(self.a_in.sel, w1, w0)),
                         prod.eq(a_q * w_q)]
        if self.row > 0:
            m.d.sync += psum.eq(self.psum_in + prod)
        else:
            m.d.sync += psum.eq(prod)
        m.d.comb += self.psum_out.eq(psum)
        return m
