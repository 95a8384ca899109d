"""Weight decoder (EIE §III-B): 4-bit weight index -> 16-bit fixed-point
weight through the running layer's 16-entry codebook (entry 0 is 0)."""

from amaranth import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import codebook_layout

__all__ = ["WeightDecoder"]


class WeightDecoder(wiring.Component):
    codebook: In(codebook_layout)
    v: In(4)
    w: Out(signed(16))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.w.eq(self.codebook[self.v])
        return m
