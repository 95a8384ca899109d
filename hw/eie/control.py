"""Central control unit (EIE §III-B): layer sequencing, broadcast issue and
the array-level performance counters.

Per layer: SETUP (read the layer descriptor, copy the layer's 16 codebook
entries into the register file every PE's weight decoder reads; 18 cycles),
INIT (preload every accumulator row with its bias; out_local + 1 cycles),
COMPUTE (the LNZD tree offers the next non-zero input activation; it is
issued when every PE holds a free queue slot; the phase ends on the first
cycle the whole array is idle), WB (write-back into the destination
activation file; out_local + 1 cycles). Then the activation files swap.
"""

from amaranth import Module, Signal, Mux, Const
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.ram import RAM
from .layouts import codebook_layout, descriptor_layout

__all__ = ["CentralControl", "SETUP_CYCLES"]

SETUP_CYCLES = 18


class CentralControl(wiring.Component):
    def __init__(self, params):
        self.params = params
        kw = params.act_index_width
        lw = max(1, ceil_log2(params.max_layers))
        cw = max(1, ceil_log2(16 * params.max_layers))
        self.lw, self.cw = lw, cw
        super().__init__({
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
            "num_layers": In(range(params.max_layers + 1)),
            # layer configuration for the PEs
            "src_sel": Out(1),
            "desc": Out(descriptor_layout),
            "codebook": Out(codebook_layout),
            # phases
            "computing": Out(1),
            "init_valid": Out(1),
            "wb_valid": Out(1),
            "k": Out(kw),
            # broadcast
            "any_head": In(1),
            "all_ready": In(1),
            "all_idle": In(1),
            "issue": Out(1),
            # counters
            "cycles": Out(32),
            "broadcasts": Out(32),
            "bcast_stall": Out(32),
            # host access to the layer table and codebook memories
            "host_layers_we": In(1),
            "host_cb_we": In(1),
            "host_addr": In(16),
            "host_wdata": In(64),
            "host_layers_rdata": Out(64),
            "host_cb_rdata": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.layers = layers = RAM(width=64, depth=p.max_layers, name="layers")
        m.submodules.cbmem = cbmem = RAM(width=16, depth=16 * p.max_layers, name="codebook")

        layer = Signal(self.lw)
        c = Signal(5)
        k = Signal(p.act_index_width)
        desc = Signal(descriptor_layout)
        codebook = Signal(codebook_layout)
        src_sel = Signal()
        done = Signal()
        m.d.comb += [self.desc.eq(desc), self.codebook.eq(codebook), self.src_sel.eq(src_sel),
                     self.done.eq(done), self.k.eq(k)]

        host = Signal()
        m.d.comb += [
            layers.raddr.eq(Mux(host, self.host_addr, layer)),
            cbmem.raddr.eq(Mux(host, self.host_addr, (layer << 4) | c[:4])),
            layers.we.eq(self.host_layers_we & host), layers.waddr.eq(self.host_addr),
            layers.wdata.eq(self.host_wdata),
            cbmem.we.eq(self.host_cb_we & host), cbmem.waddr.eq(self.host_addr),
            cbmem.wdata.eq(self.host_wdata),
            self.host_layers_rdata.eq(layers.rdata),
            self.host_cb_rdata.eq(cbmem.rdata),
        ]
        last_k = Signal()
        m.d.comb += last_k.eq(k == desc.out_local - 1)

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                m.d.comb += host.eq(1)
                with m.If(self.start):
                    m.d.sync += [layer.eq(0), c.eq(0), src_sel.eq(0), done.eq(0),
                                 self.cycles.eq(0), self.broadcasts.eq(0), self.bcast_stall.eq(0)]
                    with m.If(self.num_layers == 0):
                        m.d.sync += done.eq(1)
                    with m.Else():
                        m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += c.eq(c + 1)
                with m.If(c == 1):
                    m.d.sync += desc.eq(layers.rdata)
                with m.If((c >= 1) & (c <= 16)):
                    m.d.sync += codebook.as_value().word_select((c - 1)[:4], 16).eq(cbmem.rdata)
                with m.If(c == SETUP_CYCLES - 1):
                    m.d.sync += k.eq(0)
                    m.next = "INIT"
            with m.State("INIT"):
                m.d.comb += self.init_valid.eq(1)
                m.d.sync += k.eq(k + 1)
                with m.If(last_k):
                    m.next = "INIT_TAIL"
            with m.State("INIT_TAIL"):
                m.next = "COMPUTE"
            with m.State("COMPUTE"):
                m.d.comb += [self.computing.eq(1),
                             self.issue.eq(self.any_head & self.all_ready)]
                with m.If(self.issue):
                    m.d.sync += self.broadcasts.eq(self.broadcasts + 1)
                with m.If(self.any_head & ~self.all_ready):
                    m.d.sync += self.bcast_stall.eq(self.bcast_stall + 1)
                with m.If(~self.any_head & self.all_idle):
                    m.d.sync += k.eq(0)
                    m.next = "WB"
            with m.State("WB"):
                m.d.comb += self.wb_valid.eq(1)
                m.d.sync += k.eq(k + 1)
                with m.If(last_k):
                    m.next = "WB_TAIL"
            with m.State("WB_TAIL"):
                with m.If(layer + 1 == self.num_layers):
                    m.d.sync += done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [layer.eq(layer + 1), src_sel.eq(~src_sel), c.eq(0)]
                    m.next = "SETUP"
        m.d.comb += self.busy.eq(~host)
        with m.If(~host):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m
