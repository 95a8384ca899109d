"""Write-back (docs/design.md, "EIE number formats"): accumulator -> int16
activation. Round to nearest (add half an LSB), arithmetic shift by FRAC,
saturate to int16, then ReLU when the layer asks for it.

Two register stages: `acc` at t -> the rounded sum at t + 1 -> `y` at t + 2
(with `valid`/`k` carried along to `y_valid`/`y_k`). Saturation compares the
top bits of the shifted sum with its sign: no wide comparator."""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Writeback"]


class Writeback(wiring.Component):
    """Accumulator -> int16 activation, two register stages.

    Ports:
        valid, k, acc  In at cycle t: an accumulator value (signed acc_width
                       bits, FRAC fractional bits) and its local index k.
        relu           In: the layer's ReLU flag (stable while the layer runs).
        y_valid, y_k   Out at t + 2: `valid` and `k` carried along.
        y              Out(signed(16)) at t + 2: round to nearest, >> FRAC,
                       saturate to int16, ReLU if `relu`.
    """

    def __init__(self, acc_width, frac, kw=1):
        self.acc_width, self.frac = acc_width, frac
        super().__init__({
            "valid": In(1), "k": In(kw), "acc": In(signed(acc_width)), "relu": In(1),
            "y_valid": Out(1), "y_k": Out(kw), "y": Out(signed(16)),
        })

    def elaborate(self, platform):
        m = Module()
        f = self.frac
        aw = self.acc_width
        rounded = Signal(signed(aw + 1), reset_less=True)
        v1 = Signal()
        k1 = Signal.like(self.k, reset_less=True)
        m.d.sync += [rounded.eq(self.acc + ((1 << (f - 1)) if f else 0)), v1.eq(self.valid),
                     k1.eq(self.k)]
        shifted = rounded[f:]                        # (aw + 1 - f) bits, signed value
        top = shifted[15:]                           # in int16 range iff all equal
        in_range = (top == 0) | (top == (1 << len(top)) - 1)
        sat = Signal(signed(16))
        m.d.comb += sat.eq(Mux(in_range, shifted[:16], Mux(shifted[-1], -32768, 32767)))
        m.d.sync += [
            self.y.eq(Mux(self.relu & sat[15], 0, sat)),
            self.y_valid.eq(v1),
            self.y_k.eq(k1),
        ]
        return m
