"""Weight decoder (EIE §III-B): 4-bit weight index -> 16-bit fixed-point
weight through the running layer's 16-entry codebook (entry 0 is 0).

Combinational from `v` to `w`. The codebook is either the central unit's
register (`shared`: a few PEs read one copy) or the decoder's own 16-word
memory, written during the layer's SETUP through `cb_we`/`cb_index`/`cb_data`
(every PE its copy: LUT RAM on parts that have it, no long wires to a shared
register)."""

from amaranth import Module, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import codebook_layout

__all__ = ["WeightDecoder"]


class WeightDecoder(wiring.Component):
    def __init__(self, *, shared):
        self.shared = shared
        ports = {"v": In(4), "w": Out(signed(16))}
        if shared:
            ports["codebook"] = In(codebook_layout)
        else:
            ports.update({"cb_we": In(1), "cb_index": In(4), "cb_data": In(signed(16))})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        if self.shared:
            m.d.comb += self.w.eq(self.codebook[self.v])
            return m
        m.submodules.book = book = Memory(shape=signed(16), depth=16, init=[],
                                          attrs={"ram_style": "distributed"})
        rd = book.read_port(domain="comb")
        wr = book.write_port()
        m.d.comb += [rd.addr.eq(self.v), self.w.eq(rd.data),
                     wr.en.eq(self.cb_we), wr.addr.eq(self.cb_index), wr.data.eq(self.cb_data)]
        return m
