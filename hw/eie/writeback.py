"""Write-back (DESIGN.md): accumulator -> int16 activation.
Round to nearest (add half an LSB), arithmetic shift by FRAC, saturate to
int16, then ReLU when the layer asks for it. Combinational."""

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Writeback"]


class Writeback(wiring.Component):
    def __init__(self, acc_width, frac):
        self.acc_width, self.frac = acc_width, frac
        super().__init__({"acc": In(signed(acc_width)), "relu": In(1), "y": Out(signed(16))})

    def elaborate(self, platform):
        m = Module()
        f = self.frac
        rounded = Signal(signed(self.acc_width + 1))
        if f:
            m.d.comb += rounded.eq((self.acc + (1 << (f - 1))) >> f)
        else:
            m.d.comb += rounded.eq(self.acc)
        sat = Signal(signed(16))
        with m.If(rounded > 32767):
            m.d.comb += sat.eq(32767)
        with m.Elif(rounded < -32768):
            m.d.comb += sat.eq(-32768)
        with m.Else():
            m.d.comb += sat.eq(rounded)
        m.d.comb += self.y.eq(sat)
        with m.If(self.relu & sat[15]):
            m.d.comb += self.y.eq(0)
        return m
