"""The EIE array (EIE §III, Figure 4): N PEs, the 4-ary LNZD tree, the central
control unit, the broadcast pipeline, performance counters and the host bus.

Broadcast pipeline (docs/eie-architecture.md):
  T    the LNZD tree names (pe, k); the central unit issues it if every PE
       holds a free queue slot (credit); every PE's source file reads its head
  T+1  S1: value = source word of PE `pe`; j = k * N + pe
  T+2  S2: (value, j) reaches every PE's pointer read unit
  T+3  (value, start, end) enters every PE's activation queue
  T+4  the earliest cycle a PE can dequeue it
"""

from amaranth import Module, Signal, Mux, Const, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.hostbus import HostBusSignature
from .params import EIEParams, MEMORY_IDS
from .pe import PE, HOST_MEMS
from .lnzd_tree import LNZDTree
from .control import CentralControl

__all__ = ["EIEArray", "CONTROL_REGS"]

#: word addresses of the control target (MEMORY_IDS["control"])
CONTROL_REGS = {
    "status": 0x000,       # bit 0 busy, bit 1 done
    "num_layers": 0x001,   # read/write
    "cycles": 0x002,       # cycles of the last run
    "broadcasts": 0x003,   # non-zero activations broadcast
    "bcast_stall": 0x004,  # cycles a non-zero waited for a free queue slot
    "busy_base": 0x100,    # + pe: cycles the PE issued an entry (= entries processed)
    "idle_base": 0x200,    # + pe: compute-phase cycles the PE issued none
}


class EIEArray(wiring.Component):
    def __init__(self, params=None):
        self.params = params = params or EIEParams()
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.n_pes
        kw = p.act_index_width
        m.submodules.control = ctl = CentralControl(p)
        m.submodules.lnzd_tree = tree = LNZDTree(n, kw)
        pes = []
        for i in range(n):
            pe = PE(p, i)
            m.submodules[f"pe{i}"] = pe
            pes.append(pe)

        num_layers = Signal(range(p.max_layers + 1))
        m.d.comb += [
            ctl.start.eq(self.start),
            ctl.num_layers.eq(num_layers),
            self.busy.eq(ctl.busy),
            self.done.eq(ctl.done),
        ]

        # -- layer configuration and phases, to every PE -------------------------
        for pe in pes:
            m.d.comb += [
                pe.src_sel.eq(ctl.src_sel),
                pe.in_local.eq(ctl.desc.in_local),
                pe.ptr_base.eq(ctl.desc.ptr_base),
                pe.bias_base.eq(ctl.desc.bias_base),
                pe.relu.eq(ctl.desc.relu),
                pe.codebook.eq(ctl.codebook),
                pe.lnzd_enable.eq(ctl.computing),
                pe.init_valid.eq(ctl.init_valid),
                pe.init_k.eq(ctl.k),
                pe.wb_valid.eq(ctl.wb_valid),
                pe.wb_k.eq(ctl.k),
                pe.issue.eq(ctl.issue),
                pe.host_mode.eq(~ctl.busy),
            ]

        # -- LNZD tree and broadcast issue ------------------------------------------
        for i, pe in enumerate(pes):
            m.d.comb += [getattr(tree, f"valid{i}").eq(pe.head_valid),
                         getattr(tree, f"k{i}").eq(pe.head),
                         pe.pop.eq(ctl.issue & (tree.pe == i))]
        all_ready = Signal()
        m.d.comb += all_ready.eq(Const(1, 1) if not pes else
                                 _and_all([pe.ready for pe in pes]))
        s1_valid = Signal()
        s1_pe = Signal(max(1, ceil_log2(n)))
        s1_k = Signal(kw)
        m.d.sync += [s1_valid.eq(ctl.issue), s1_pe.eq(tree.pe), s1_k.eq(tree.k)]
        s1_value = Signal(signed(16))
        with m.Switch(s1_pe):
            for i, pe in enumerate(pes):
                with m.Case(i):
                    m.d.comb += s1_value.eq(pe.src_value)
        s2_valid = Signal()
        s2_value = Signal(signed(16))
        s2_col = Signal(p.col_width)
        m.d.sync += [s2_valid.eq(s1_valid), s2_value.eq(s1_value), s2_col.eq(s1_k * n + s1_pe)]
        for pe in pes:
            m.d.comb += [pe.bcast_valid.eq(s2_valid), pe.bcast_value.eq(s2_value),
                         pe.bcast_col.eq(s2_col)]
        all_idle = Signal()
        m.d.comb += [
            all_idle.eq(~s1_valid & ~s2_valid & _and_all([pe.idle for pe in pes])),
            ctl.any_head.eq(tree.valid),
            ctl.all_ready.eq(all_ready),
            ctl.all_idle.eq(all_idle),
        ]

        # -- per-PE counters ------------------------------------------------------------
        busy_ctr = [Signal(32, name=f"busy_ctr{i}") for i in range(n)]
        idle_ctr = [Signal(32, name=f"idle_ctr{i}") for i in range(n)]
        with m.If(self.start & ~ctl.busy):
            m.d.sync += [c.eq(0) for c in busy_ctr + idle_ctr]
        with m.Elif(ctl.computing):
            for pe, b, d in zip(pes, busy_ctr, idle_ctr):
                with m.If(pe.issuing):
                    m.d.sync += b.eq(b + 1)
                with m.Else():
                    m.d.sync += d.eq(d + 1)

        # -- host bus ---------------------------------------------------------------------
        bus = self.bus
        target = bus.addr[24:32]
        sel_pe = bus.addr[16:24]
        word = bus.addr[0:16]
        pe_ids = {name: MEMORY_IDS[name] for name in HOST_MEMS}
        depth = {"spmat": p.spmat_depth, "ptr_even": p.ptr_depth, "ptr_odd": p.ptr_depth,
                 "bias": p.bias_depth, "act0": p.act_depth, "act1": p.act_depth}
        wbytes = {"spmat": -(-p.spmat_width // 8), "ptr_even": -(-p.ptr_width // 8),
                  "ptr_odd": -(-p.ptr_width // 8), "bias": 2, "act0": 2, "act1": 2}
        idle = ~ctl.busy
        with m.Switch(target):
            with m.Case(MEMORY_IDS["control"]):
                m.d.comb += bus.word_bytes.eq(4)
                ok = ((word < 5) | ((word >= 0x100) & (word < 0x100 + n)) |
                      ((word >= 0x200) & (word < 0x200 + n)))
                m.d.comb += bus.addr_ok.eq((sel_pe == 0) & ok)
            with m.Case(MEMORY_IDS["layers"]):
                m.d.comb += [bus.word_bytes.eq(8),
                             bus.addr_ok.eq((sel_pe == 0) & (word < p.max_layers))]
            with m.Case(MEMORY_IDS["codebook"]):
                m.d.comb += [bus.word_bytes.eq(2),
                             bus.addr_ok.eq((sel_pe == 0) & (word < 16 * p.max_layers))]
            for name, tid in pe_ids.items():
                with m.Case(tid):
                    m.d.comb += [bus.word_bytes.eq(wbytes[name]),
                                 bus.addr_ok.eq((sel_pe < n) & (word < depth[name]))]
            with m.Default():
                m.d.comb += [bus.word_bytes.eq(1), bus.addr_ok.eq(0)]

        write = bus.we & bus.addr_ok
        with m.If(write & idle & (target == MEMORY_IDS["control"]) & (word == 1)):
            m.d.sync += num_layers.eq(bus.wdata)
        m.d.comb += [
            ctl.host_addr.eq(word),
            ctl.host_wdata.eq(bus.wdata),
            ctl.host_layers_we.eq(write & (target == MEMORY_IDS["layers"])),
            ctl.host_cb_we.eq(write & (target == MEMORY_IDS["codebook"])),
        ]
        mem_code = Signal(3)
        with m.Switch(target):
            for code, name in enumerate(HOST_MEMS):
                with m.Case(pe_ids[name]):
                    m.d.comb += mem_code.eq(code)
        is_pe_mem = Signal()
        m.d.comb += is_pe_mem.eq((target >= 0x10) & (target < 0x10 + len(HOST_MEMS)))
        for i, pe in enumerate(pes):
            m.d.comb += [pe.host_mem.eq(mem_code), pe.host_addr.eq(word),
                         pe.host_wdata.eq(bus.wdata),
                         pe.host_we.eq(write & is_pe_mem & (sel_pe == i))]

        # reads: address at t, memories answer at t+1, registered answer at t+2
        r1_valid = Signal()
        r1_target = Signal(8)
        r1_pe = Signal(8)
        r1_word = Signal(16)
        m.d.sync += [r1_valid.eq(bus.re), r1_target.eq(target), r1_pe.eq(sel_pe), r1_word.eq(word)]
        rsel = Signal(64)
        with m.Switch(r1_target):
            with m.Case(MEMORY_IDS["control"]):
                with m.Switch(r1_word):
                    with m.Case(0):
                        m.d.comb += rsel.eq(ctl.busy | (ctl.done << 1))
                    with m.Case(1):
                        m.d.comb += rsel.eq(num_layers)
                    with m.Case(2):
                        m.d.comb += rsel.eq(ctl.cycles)
                    with m.Case(3):
                        m.d.comb += rsel.eq(ctl.broadcasts)
                    with m.Case(4):
                        m.d.comb += rsel.eq(ctl.bcast_stall)
                    for i in range(n):
                        with m.Case(0x100 + i):
                            m.d.comb += rsel.eq(busy_ctr[i])
                        with m.Case(0x200 + i):
                            m.d.comb += rsel.eq(idle_ctr[i])
            with m.Case(MEMORY_IDS["layers"]):
                m.d.comb += rsel.eq(ctl.host_layers_rdata)
            with m.Case(MEMORY_IDS["codebook"]):
                m.d.comb += rsel.eq(ctl.host_cb_rdata)
            with m.Default():
                with m.Switch(r1_pe):
                    for i, pe in enumerate(pes):
                        with m.Case(i):
                            m.d.comb += rsel.eq(pe.host_rdata)
        m.d.sync += [bus.rvalid.eq(r1_valid), bus.rdata.eq(rsel)]
        return m


def _and_all(sigs):
    out = Const(1, 1)
    for s in sigs:
        out = out & s
    return out
