"""Pointer read unit (EIE §III-B): column pointers p[g] and p[g+1] in one cycle.

Pointers sit in two banks, even g and odd g (both at address g // 2), so the
pair always comes from different banks: even[(g+1) >> 1] and odd[g >> 1],
swapped when g is odd. g = ptr_base + j for the broadcast column j.

Timing: broadcast (value, j) at cycle t -> bank addresses at t -> (value,
start, end) on `out` at t+1, pushed into the activation queue.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .layouts import queue_layout

__all__ = ["PointerReadUnit"]


class PointerReadUnit(wiring.Component):
    def __init__(self, params):
        self.params = params
        aw = max(1, ceil_log2(params.ptr_depth))
        self.aw = aw
        super().__init__({
            "bcast_valid": In(1),
            "bcast_value": In(signed(16)),
            "bcast_col": In(params.col_width),
            "ptr_base": In(16),
            "even_raddr": Out(aw),
            "even_rdata": In(params.ptr_width),
            "odd_raddr": Out(aw),
            "odd_rdata": In(params.ptr_width),
            "out": Out(stream.Signature(queue_layout(params))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        g = Signal(17)
        m.d.comb += [
            g.eq(self.ptr_base + self.bcast_col),
            self.even_raddr.eq((g + 1) >> 1),
            self.odd_raddr.eq(g >> 1),
        ]
        valid = Signal()
        value = Signal(signed(16))
        odd = Signal()
        m.d.sync += [valid.eq(self.bcast_valid), value.eq(self.bcast_value), odd.eq(g[0])]
        m.d.comb += [
            self.out.valid.eq(valid),
            self.out.payload.value.eq(value),
            self.out.payload.start.eq(Mux(odd, self.odd_rdata, self.even_rdata)),
            self.out.payload.end.eq(Mux(odd, self.even_rdata, self.odd_rdata)),
            self.busy.eq(valid),
        ]
        return m
