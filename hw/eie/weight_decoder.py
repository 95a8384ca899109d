"""Weight decoder (EIE §III-B): 4-bit weight index -> 16-bit fixed-point
weight through the running layer's 16-entry codebook (entry 0 is 0).

Every PE holds its copy of the codebook in a 16-word memory, written during
the layer's SETUP (`cb_we`/`cb_index`/`cb_data`): no long wires to a shared
register, and no 16:1 multiplexer per weight bit: LUT RAM on parts that have
it (ECP5), a block RAM on the others (iCE40, where the multiplexers would
cost 15 logic cells a bit).
"""

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..common.dsp import dsp_input_registers
from ..common.ram import sync_read

__all__ = ["WeightDecoder"]


class WeightDecoder(wiring.Component):
    """Ports: `v` (in) at t -> `w` (out) at t + 1 (a synchronous read: the
    multiplier's input register); `cb_we`, `cb_index`, `cb_data` (in): write
    codebook entry `cb_index` at the end of the cycle (SETUP only, never while
    entries are decoded).

    On a platform whose multiplier has input registers (hw/common/dsp.py
    `dsp_input_registers`: the ECP5's MULT18X18D) that register is the DSP's,
    inside the arithmetic unit: `w` is then the codebook's word at `v` in the
    same cycle (the LUT RAM's combinational read), and the weight goes from
    the LUT RAM straight into the DSP, not from a slice register across the
    route to the DSP column into a combinational multiplier.
    """

    v: In(4)
    w: Out(signed(16))
    cb_we: In(1)
    cb_index: In(4)
    cb_data: In(signed(16))

    def elaborate(self, platform):
        m = Module()
        attrs = {"no_rw_check": 1}
        style = getattr(platform, "eiegen_small_ram_style", None)
        if style:
            attrs["ram_style"] = style
        m.submodules.book = book = Memory(shape=signed(16), depth=16, init=[], attrs=attrs)
        w = Signal(signed(16), reset_less=True)
        if dsp_input_registers(platform):
            if not style:
                raise ValueError("the weight decoder reads its codebook combinationally into the DSP's "
                                 "input register: the platform must put small memories in LUT RAM "
                                 "(eiegen_small_ram_style)")
            rd = book.read_port(domain="comb")
            m.d.comb += [rd.addr.eq(self.v), w.eq(rd.data)]
        else:
            sync_read(m, book, self.v, w)
        wr = book.write_port()
        m.d.comb += [self.w.eq(w), wr.en.eq(self.cb_we), wr.addr.eq(self.cb_index),
                     wr.data.eq(self.cb_data)]
        return m
