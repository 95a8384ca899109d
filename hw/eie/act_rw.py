"""Activation read/write unit (EIE §III-B): the PE's two activation register
files, source and destination, swapped between layers (ping-pong), so layer
L's outputs are layer L+1's inputs without moving data.

Each file is a memory of act_depth int16 words plus a register of non-zero
flags (one bit per word, updated on every write), which the local LNZD scans.
Read port: the source file at `raddr` (the LNZD head while computing, the
host's address while idle), data one cycle later on `src_value`/`rdata0/1`.
Write port: the write-back into the destination file, or the host.
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["ActivationReadWrite"]


class ActivationReadWrite(wiring.Component):
    def __init__(self, params):
        self.params = params
        kw = params.act_index_width
        d = params.act_depth
        super().__init__({
            "src_sel": In(1),          # file holding this layer's inputs
            "flags": Out(d),           # non-zero flags of the source file
            "raddr": In(kw),
            "src_value": Out(signed(16)),
            "rdata0": Out(signed(16)),
            "rdata1": Out(signed(16)),
            # write-back into the destination file
            "wb_valid": In(1),
            "wb_k": In(kw),
            "wb_value": In(signed(16)),
            # host writes (only while the array is idle)
            "host_we": In(1),
            "host_file": In(1),
            "host_k": In(kw),
            "host_wdata": In(signed(16)),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        flags = [Signal(p.act_depth, name=f"flags{i}") for i in range(2)]
        rdata = [self.rdata0, self.rdata1]
        src_q = Signal()
        m.d.sync += src_q.eq(self.src_sel)
        for i in range(2):
            mem = Memory(shape=signed(16), depth=p.act_depth, init=[])
            m.submodules[f"act{i}"] = mem
            rd = mem.read_port()
            wr = mem.write_port()
            # write-back goes to the destination file (not the source)
            wb_here = self.wb_valid & (self.src_sel != i)
            host_here = self.host_we & (self.host_file == i)
            we = Signal(name=f"we{i}")
            k = Signal(p.act_index_width, name=f"k{i}")
            val = Signal(signed(16), name=f"val{i}")
            m.d.comb += [
                we.eq(wb_here | host_here),
                k.eq(Mux(wb_here, self.wb_k, self.host_k)),
                val.eq(Mux(wb_here, self.wb_value, self.host_wdata)),
                wr.en.eq(we), wr.addr.eq(k), wr.data.eq(val),
                rd.addr.eq(self.raddr),
                rdata[i].eq(rd.data),
            ]
            with m.If(we):
                m.d.sync += flags[i].bit_select(k, 1).eq(val != 0)
        m.d.comb += [
            self.flags.eq(Mux(self.src_sel, flags[1], flags[0])),
            self.src_value.eq(Mux(src_q, self.rdata1, self.rdata0)),
        ]
        return m
