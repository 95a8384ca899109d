"""SystolicArray: the R x C grid of PEs (the TPU's Matrix Multiply Unit).

Row r's activations enter PE(r, 0) at `a_in[r]` and move right; column c's
weight beats enter PE(0, c) at `w_in[c]` and move down; partial sums start
in row 0 and leave below row R-1 at `psum_out[c]` (params.psum_width(R - 1)
bits). An activation that enters row r at cycle t meets PE(r, c) at t + c;
with PE_LATENCY = 3 the partial sum of PE(r, c) for it is ready at
t + c + 3, one cycle after the one of PE(r - 1, c) for the activation that
entered row r - 1 at t - 1. Feed row r r cycles late (Skew) and column c's
result comes out at t0 + (R - 1) + c + 3 for the vector whose row 0 entered
at t0; delay column c by C - 1 - c (Deskew) and the whole output row is
there at t0 + R + C + 1.
"""

from amaranth import Module, signed
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from ..common.dsp import dsp_input_registers
from .floorplan import pe_sites
from .layouts import act_beat, weight_beat
from .pe import PE

__all__ = ["SystolicArray"]


class SystolicArray(wiring.Component):
    """Ports:
        a_in      In, R activation beats (data, sel): a_in[r] enters PE(r, 0)
                  and meets PE(r, c) c cycles later.
        w_in      In, C weight beats (data, valid, bank, tag): w_in[c] enters
                  PE(0, c) and moves down one PE per cycle.
        psum_out  Out, C partial sums from below row R - 1: for activations
                  fed skewed (row r at t0 + r), psum_out[c] is the sum at
                  t0 + (R - 1) + c + PE_LATENCY (module docstring).
    """

    def __init__(self, params):
        self.params = params
        R, C = params.rows, params.cols
        super().__init__({
            "a_in": In(data.ArrayLayout(act_beat(params), R)),
            "w_in": In(data.ArrayLayout(weight_beat(params), C)),
            "psum_out": Out(data.ArrayLayout(signed(params.psum_width(R - 1)), C)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        R, C = p.rows, p.cols
        # the multipliers' floorplan, where the platform's DSP sites are known
        sites = pe_sites(R, C, getattr(platform, "eiegen_dsp_sites", None)) \
            if dsp_input_registers(platform) else {}
        self.pes = pes = [[PE(p, r, site=sites.get((r, c))) for c in range(C)] for r in range(R)]
        for r in range(R):
            for c in range(C):
                pe = pes[r][c]
                m.submodules[f"pe_{r}_{c}"] = pe
                m.d.comb += pe.a_in.eq(self.a_in[r] if c == 0 else pes[r][c - 1].a_out)
                m.d.comb += pe.w_in.eq(self.w_in[c] if r == 0 else pes[r - 1][c].w_out)
                if r > 0:
                    m.d.comb += pe.psum_in.eq(pes[r - 1][c].psum_out)
        for c in range(C):
            m.d.comb += self.psum_out[c].eq(pes[R - 1][c].psum_out)
        return m
