"""Accumulators: the rows of 32-bit sums under the array.

A MMUL row issued at cycle q comes out of the Deskew as one whole row of C
partial sums at cycle q + R + C. Its control (valid, accumulator row,
add/overwrite) travels beside it through a delay line; the accumulator row
is read at q + R + C - 1 and written at q + R + C with

    acc[row] = (acc[row] if accumulate else 0) + psum     (wrapping)

so K larger than R is tiled by MMULs into the same rows, the first one
overwriting, the rest adding. The read port used for this is transparent
to the write port: back-to-back MMULs into the same row (n = 1) see each
other's sums. A second read port serves the activation unit. The memory is
one block RAM (a copy per read port), C lanes of acc_width bits per row.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .lane_memory import LaneMemory
from .layouts import acc_ctl

__all__ = ["Accumulators"]


class Accumulators(wiring.Component):
    def __init__(self, params):
        self.params = params
        p = params
        self.memory = LaneMemory(lanes=p.cols, lane_shape=signed(p.acc_width), depth=p.acc_depth,
                                 chunk_lanes=1, bus_lane_bits=8 * p.acc_bytes, n_read=2,
                                 transparent=True)
        row = data.ArrayLayout(signed(p.acc_width), p.cols)
        super().__init__({
            "ctl_in": In(acc_ctl(p)),          # at the cycle the row issues
            "psum_in": In(row),                # R + C cycles later (from the Deskew)
            "act_raddr": In(self.memory.abits),
            "act_rdata": Out(row),
            "busy": Out(1),                    # a row is in flight to the accumulators
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.memory = mem = self.memory
        stages = [self.ctl_in]
        for k in range(p.pipeline_depth):
            s = Signal(acc_ctl(p), name=f"ctl_d{k + 1}")
            m.d.sync += s.eq(stages[-1])
            stages.append(s)
        rd, wr = stages[-2], stages[-1]       # q + R + C - 1 and q + R + C
        m.d.comb += self.busy.eq(0)
        for s in stages[1:]:
            with m.If(s.valid):
                m.d.comb += self.busy.eq(1)
        m.d.comb += mem.raddr0.eq(rd.addr)
        m.d.comb += [mem.waddr.eq(wr.addr), mem.we.eq(wr.valid), mem.wlanes.eq(-1)]
        for c in range(p.cols):
            old = Mux(wr.accumulate, mem.rdata0[c], 0)
            m.d.comb += mem.wdata[c].eq(self.psum_in[c] + old)
        m.d.comb += [mem.raddr1.eq(self.act_raddr), self.act_rdata.eq(mem.rdata1)]
        return m
