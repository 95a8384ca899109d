"""Address accumulator (EIE §III-B): relative indices to local row addresses.

The first entry of a column lands on local row z, every later one on
previous row + z + 1 (a padding entry (0, 15) thus advances 16 rows).
Combinational in `row`, registers the row for the next entry.
"""

from amaranth import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AddressAccumulator"]


class AddressAccumulator(wiring.Component):
    """Relative index z -> local accumulator row.

    Ports:
        valid  In: an entry is decoded this cycle.
        first  In: it is its column's first entry.
        z      In(4): its relative index.
        row    Out(row_width), combinational in the same cycle: z when `first`,
               else the previous valid entry's row + z + 1.

    The row of a valid entry is registered (latency 1) for the next entry.
    """

    def __init__(self, row_width):
        self.row_width = row_width
        super().__init__({
            "valid": In(1),
            "first": In(1),
            "z": In(4),
            "row": Out(row_width),
        })

    def elaborate(self, platform):
        m = Module()
        prev = Signal(self.row_width)
        m.d.comb += self.row.eq(Mux(self.first, self.z, prev + self.z + 1))
        with m.If(self.valid):
            m.d.sync += prev.eq(self.row)
        return m
