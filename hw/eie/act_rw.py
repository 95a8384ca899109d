"""Activation read/write unit (EIE §III-B, "Act R/W"): the PE's two activation
files, source and destination, swapped between layers (ping-pong), so layer
L's outputs are layer L+1's inputs without moving data; beside them, the PE's
bias words.

Both files and the bias words live in one block memory (`data`, one read
port, one write port), so activation capacity costs memory, not logic:

    word  0 .. A-1        file 0 (act0)         A = act_depth rounded up to a power of two
    word  A .. 2A-1       file 1 (act1)
    word  2A .. 2A+bias_depth-1   bias (bias0 ...)

Reads (one a cycle, the phases never overlap), data `mem_latency` cycles later
on `rdata`:
  - prefetch: word k of the source file (`pf_valid`, `pf_k`; COMPUTE, the LNZD's
    slice scan);
  - bias: word `bias_base + k` of the bias words (`init_valid`, `init_k`; INIT);
  - host: any word of act0, act1 or bias (`host_mode`).
Writes: the write-back into the destination file (`wb_valid`, `wb_k`,
`wb_value`; WB) or the host (`host_we`; only while the array is idle).
"""

from amaranth import Module, Signal, Mux, Cat, Const, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.ram import RAM

__all__ = ["ActivationReadWrite", "data_layout"]

#: host memories of the data memory (host_region codes)
REGIONS = ("act0", "act1", "bias")


def data_layout(params):
    """(file stride A, bias base, depth) of a PE's data memory."""
    a = 1 << ceil_log2(params.act_depth)
    return a, 2 * a, 2 * a + params.bias_depth


class ActivationReadWrite(wiring.Component):
    """Ports (all sampled at the clock edge; `rdata` valid `mem_latency`
    cycles after the request):

    - `src_sel` (in): the file holding this layer's inputs (stable in a layer).
    - `pf_valid`, `pf_k` (in): read source word k.
    - `init_valid`, `init_k`, `bias_base` (in): read bias word bias_base + k.
    - `host_mode`, `host_region` (0 act0, 1 act1, 2 bias), `host_addr` (in):
      the host's read address while the array is idle.
    - `rdata` (out): the word read.
    - `wb_valid`, `wb_k`, `wb_value` (in): write the destination file.
    - `host_we`, `host_wdata` (in): host write at host_region/host_addr. It
      need not come with `host_mode`: the PE takes host writes only in host mode
      and may deliver one a cycle after it ends. A write-back in host mode does
      nothing.
    """

    def __init__(self, params, index=0):
        self.params, self.index = params, index
        kw = params.act_index_width
        self.stride, self.bias_at, self.depth = data_layout(params)
        super().__init__({
            "src_sel": In(1),
            "pf_valid": In(1),
            "pf_k": In(kw),
            "init_valid": In(1),
            "init_k": In(kw),
            "bias_base": In(15),
            "host_mode": In(1),
            "host_region": In(2),
            "host_addr": In(16),
            "rdata": Out(signed(16)),
            "wb_valid": In(1),
            "wb_k": In(kw),
            "wb_value": In(signed(16)),
            "host_we": In(1),
            "host_wdata": In(16),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.data = data = RAM(width=16, depth=self.depth, name=f"pe{self.index:02d}_bias",
                                       init_offset=self.bias_at, latency=p.mem_latency)
        aw = data.abits
        fb = ceil_log2(self.stride)           # bits of a file word address

        def file_addr(sel, k):
            return Cat(k[:fb] if fb else Const(0, 0), sel)

        def bias_addr(v):
            # bias word v (< bias_depth, as the host map and the layer table check). The bias
            # words start at 2A, a power of two: with bias_depth <= 2A that is bit fb set
            # above v, no adder
            if p.bias_depth <= self.bias_at:
                return Cat(v[:fb + 1], Const(1, 1))
            return self.bias_at + v

        host_addr = Signal(aw)
        with m.Switch(self.host_region):
            with m.Case(0, 1):
                m.d.comb += host_addr.eq(file_addr(self.host_region[0], self.host_addr))
            with m.Default():
                m.d.comb += host_addr.eq(bias_addr(self.host_addr))
        raddr = Signal(aw)
        with m.If(self.host_mode):
            m.d.comb += raddr.eq(host_addr)
        with m.Elif(self.init_valid):
            bias_k = Signal(ceil_log2(self.depth))       # bias_base + k, as wide as an address
            m.d.comb += [bias_k.eq(self.bias_base + self.init_k), raddr.eq(bias_addr(bias_k))]
        with m.Else():
            m.d.comb += raddr.eq(file_addr(self.src_sel, self.pf_k))
        m.d.comb += [data.raddr.eq(raddr), self.rdata.eq(data.rdata)]

        # a host write (decoded only while the host owns the memories) may land a cycle after
        # the array left host mode (the PE's host register): it, not host_mode, selects
        with m.If(self.host_we):
            m.d.comb += [data.we.eq(1), data.waddr.eq(host_addr), data.wdata.eq(self.host_wdata)]
        with m.Else():
            m.d.comb += [data.we.eq(self.wb_valid & ~self.host_mode),
                         data.waddr.eq(file_addr(~self.src_sel, self.wb_k)), data.wdata.eq(self.wb_value)]
        return m
