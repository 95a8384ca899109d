"""Skew: delay lane i of a row by i cycles (lane 0 passes straight through).

Feeds the array diagonally: the activation row (lanes = array rows) so that
row r starts r cycles after row 0, and the weight row (lanes = array
columns) so that column c's weights travel down c cycles after column 0's,
in step with the activations.
"""

from amaranth import Module, Signal
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

__all__ = ["Skew"]


class Skew(wiring.Component):
    """Ports: `i` (In, `lanes` lanes of `shape`) and `o` (Out, the same):
    o[lane] is i[lane] of `delay(lane)` = lane cycles earlier, through that
    many registers (lane 0 is combinational: latency 0).
    """

    def __init__(self, lanes, shape, *, reset_less=False):
        # reset_less: the delay registers have no reset (a user for which
        # what is in flight at a reset does no harm: the weight loader's)
        self.lanes, self.shape, self.reset_less = lanes, shape, reset_less
        super().__init__({
            "i": In(data.ArrayLayout(shape, lanes)),
            "o": Out(data.ArrayLayout(shape, lanes)),
        })

    def delay(self, lane):
        return lane

    def elaborate(self, platform):
        m = Module()
        for lane in range(self.lanes):
            prev = self.i[lane]
            for k in range(self.delay(lane)):
                stage = Signal(self.shape, name=f"lane{lane}_d{k + 1}", reset_less=self.reset_less)
                m.d.sync += stage.eq(prev)
                prev = stage
            m.d.comb += self.o[lane].eq(prev)
        return m
