"""The EIE array (EIE §III, Figure 4): N PEs, the central control unit, the
LNZD, the broadcast pipeline, the registered trees between them, performance
counters and the host bus.

Broadcast pipeline (docs/eie-architecture.md, hw/eie/timing.py; Fl = fan-out
levels, Gl = gather levels, M = memory latency):
  T             the LNZD issues (pe, k) of the head slice (credits permitting)
  T+1           grant register (one-hot), k; pe index encoding starts
  T+1+Fl        PE pe's grant (aligned with the slice retire): value_out at T+2+Fl
  T+3+Fl+Gl     broadcast register: value (OR of the PEs' value_out), and the
                pointer bank addresses of g = ptr_base + k * N + pe
  X=T+3+2Fl+Gl  every PE's pointer read unit; queue item at X+M+1; dequeue from T+L
"""

from amaranth import Module, Signal, Mux, Cat, Const, ResetInserter, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.hostbus import HostBusSignature
from .params import EIEParams, MEMORY_IDS, CONTROL_REGS, host_map
from .pe import PE, HOST_MEMS, BUSY_COUNTER, deq_width, host_width
from .lnzd import LNZD, popcount
from .control import CentralControl
from .trees import (fanout, delay, gather_or, gather_and, gather_min, own_reset, local_reset,
                    or_all, FANOUT_ATTR)

__all__ = ["EIEArray", "CONTROL_REGS", "FLUSH_CYCLES"]

#: cycles the PEs drop work after an abort: longer than a broadcast or a slice
#: takes to reach them, so nothing issued before the abort survives it
FLUSH_CYCLES = 32


class EIEArray(wiring.Component):
    """The whole EIE array, the unit the board top and the host link see.

    Port contract:
    - `bus` (in, hw/common/hostbus.py): host bus target. `addr_ok`/`word_bytes` are
      combinational in `addr` (hw/eie/params.py host_map); writes take effect
      in order with reads (a read after a write returns it); reads answer `read_latency` cycles after `re`. PE memories
      are written and read only while the array is idle (writes are ignored and
      reads return 0 while it runs).
    - `start` (in): pulse; starts `num_layers` layers if `config_ok`.
    - `config_ok` (out, a register): 1 <= num_layers (control register 1) <= max_layers,
      a cycle after a write of num_layers lands (RUN comes long after).
    - `busy` (out): a run or an abort is in progress; `done` (out): the last run
      finished (cleared by the next start or an abort).
    - `abort` (in): pulse; the array is idle again within FLUSH_CYCLES + 1 cycles,
      image memories and num_layers intact (activations undefined).
    """

    def __init__(self, params=None):
        self.params = params = params or EIEParams()
        self.timing = params.timing
        self.host_map = host_map(params)
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "abort": In(1),
            "config_ok": Out(1),
            "busy": Out(1),
            "done": Out(1),
        })

    @property
    def pe_read_latency(self):
        """Cycles from the registered read request (`req_q`) to the PEs' gathered
        word: the fan-out, the PE's host stage, the memory and the gather tree."""
        t = self.timing
        return 1 + t.fanout + t.host_stage + t.mem_latency + t.gather

    @property
    def read_latency(self):
        """Cycles from `re` to `rvalid`: the request registered twice (`req_*`,
        `req_q`), the PEs' part, their word registered (`pe_word_q`), `rvalid`."""
        return 2 + self.pe_read_latency + 2

    def elaborate(self, platform):
        m = Module()
        p = self.params
        t = self.timing
        n = p.n_pes
        kw = p.act_index_width
        Fl, Gl = t.fanout, t.gather

        # -- abort: the control unit is reset, the pipelines flushed --------------------------
        flushing = Signal(range(FLUSH_CYCLES + 1))
        flush = Signal()
        m.d.comb += flush.eq(flushing != 0)
        ctl_busy = Signal()
        with m.If(self.abort & ctl_busy):
            m.d.sync += flushing.eq(FLUSH_CYCLES)
        with m.Elif(flush):
            m.d.sync += flushing.eq(flushing - 1)
        abort_now = Signal()
        m.d.comb += abort_now.eq(self.abort & ctl_busy)

        ctl = CentralControl(p)
        lnzd = LNZD(n, kw, t.slice_slots)
        if t.pe_stage:
            # in large ECP5 arrays the control unit and the LNZD take their reset from a
            # register of their own (they leave reset a cycle after the rest): the unit's
            # reset register -> 7.8 ns -> the control unit's abort OR was a 40-PE ULX3S
            # build's critical path
            m.submodules.control = local_reset(m, ctl, "ctl", abort_now)
            m.submodules.lnzd = local_reset(m, lnzd, "lnzd", flush)
        else:
            m.submodules.control = ResetInserter({"sync": abort_now})(ctl)
            m.submodules.lnzd = ResetInserter({"sync": flush})(lnzd)
        # each PE runs in a clock domain of its own whose reset comes through a register
        # tree, as its configuration does (Fl + 1 cycles): the sync reset, one net over the
        # whole die, combined with `flush` in a LUT at every PE, was the 32-PE ULX3S
        # build's critical path. The trees into the PEs carry no reset themselves: what
        # reaches a PE while it is held in reset is dropped, and when it leaves reset the
        # trees carry what their (reset) roots held after the reset
        rst_r = Signal(reset_less=True)
        m.d.sync += rst_r.eq(ResetSignal("sync"))
        # (a register for every PE at the last level: a leaf shared by 4 PEs, and the LUT
        # that combines it with `flush`, reached every cell of the 4, 9.5 ns of routing,
        # the next 32-PE critical path)
        pe_rst = fanout(m, rst_r, n, Fl, name="pe_rst", reset_less=True, per_leaf=True)
        pes = []
        for i in range(n):
            pe = PE(p, i)
            m.submodules[f"pe{i}"] = own_reset(m, pe, f"pe{i}", pe_rst[i])
            pes.append(pe)

        num_layers = Signal(16)
        m.d.comb += [
            ctl.start.eq(self.start & ~flush),
            ctl.num_layers.eq(num_layers),
            ctl_busy.eq(ctl.busy),
            self.config_ok.eq(ctl.config_ok),
            self.busy.eq(ctl.busy | flush),
            self.done.eq(ctl.done),
        ]

        # the array's own pipeline registers: whatever they hold after an abort reaches
        # the PEs while they are still flushing
        dp = m

        # -- fan-out of the layer configuration, phases and host requests -------------------
        bus = self.bus
        req_we = Signal()
        req_re = Signal()
        req_target = Signal(8, reset_less=True)
        req_pe = Signal(8, reset_less=True)
        req_word = Signal(16, reset_less=True)
        req_wdata = Signal(64, reset_less=True)
        m.d.sync += [req_we.eq(bus.we & bus.addr_ok), req_re.eq(bus.re), req_target.eq(bus.addr[24:32]),
                     req_pe.eq(bus.addr[16:24]), req_word.eq(bus.addr[0:16]), req_wdata.eq(bus.wdata)]
        # the central writes' targets decoded as the request is registered, so that a
        # write enable is one AND behind registers (the target and word compares in front
        # of num_layers' enable were the iCEBreaker build's path after config_ok's)
        req_to_layers = Signal(reset_less=True)
        req_to_cb = Signal(reset_less=True)
        req_to_nl = Signal(reset_less=True)
        m.d.sync += [req_to_layers.eq(bus.addr[24:32] == MEMORY_IDS["layers"]),
                     req_to_cb.eq(bus.addr[24:32] == MEMORY_IDS["codebook"]),
                     req_to_nl.eq(bus.addr == ((MEMORY_IDS["control"] << 24) |
                                               CONTROL_REGS["num_layers"]))]
        host_mode = Signal()
        m.d.comb += host_mode.eq(~ctl.busy)
        mem_code = Signal(3)
        is_pe_mem = Signal()
        with m.Switch(req_target):
            for code, name in enumerate(HOST_MEMS):
                with m.Case(MEMORY_IDS[name]):
                    m.d.comb += [mem_code.eq(code), is_pe_mem.eq(1)]
            with m.Case(MEMORY_IDS["control"]):
                m.d.comb += mem_code.eq(BUSY_COUNTER)
        # busy counter reads: control words 0x100 + p and 0x200 + p (idle = compute - busy)
        ctr_read = Signal()
        ctr_pe = Signal(8)
        m.d.comb += [
            ctr_read.eq((req_target == MEMORY_IDS["control"]) &
                        ((req_word[8:] == CONTROL_REGS["busy_base"] >> 8) |
                         (req_word[8:] == CONTROL_REGS["idle_base"] >> 8))),
            ctr_pe.eq(req_word[:8]),
        ]

        hw = host_width(p)
        config = Cat(ctl.src_sel, ctl.desc.bias_base, ctl.desc.relu, ctl.computing, ctl.clear,
                     ctl.run_start, ctl.pf_valid, ctl.pf_k, ctl.init_valid, ctl.wb_valid, ctl.k,
                     ctl.cb_we, ctl.cb_index, ctl.cb_data, host_mode, flush,
                     req_we & is_pe_mem & host_mode, req_re & (is_pe_mem | ctr_read),
                     mem_code, req_word, req_wdata[:hw], Mux(ctr_read, ctr_pe, req_pe))
        config_q = Signal(len(config))            # (valid bits inside: keeps its reset)
        m.d.sync += config_q.eq(config)
        # (with t.pe_stage every PE has its own leaf register: a leaf shared by 4 PEs drove the
        # flush into four PEs' LNZD lanes and the configuration into their memory addresses)
        own = t.pe_stage > 0
        leaves = fanout(m, config_q, n, Fl, name="cfg", reset_less=True, per_leaf=own)

        def fields(v):
            it = iter([("src_sel", 1), ("bias_base", 15), ("relu", 1), ("computing", 1),
                       ("clear", 1), ("run_start", 1), ("pf_valid", 1), ("pf_k", kw),
                       ("init_valid", 1), ("wb_valid", 1), ("k", kw), ("cb_we", 1),
                       ("cb_index", 4), ("cb_data", 16), ("host_mode", 1), ("flush", 1),
                       ("host_we", 1), ("host_re", 1), ("host_mem", 3), ("host_addr", 16),
                       ("host_wdata", hw), ("host_pe", 8)])
            out, pos = {}, 0
            for name, w in it:
                out[name] = v[pos:pos + w]
                pos += w
            return out

        for i, (pe, leaf) in enumerate(zip(pes, leaves)):
            f = fields(leaf)
            m.d.comb += [
                pe.src_sel.eq(f["src_sel"]), pe.bias_base.eq(f["bias_base"]), pe.relu.eq(f["relu"]),
                pe.computing.eq(f["computing"]), pe.clear.eq(f["clear"]),
                pe.run_start.eq(f["run_start"]),
                pe.pf_valid.eq(f["pf_valid"]), pe.pf_k.eq(f["pf_k"]),
                pe.init_valid.eq(f["init_valid"]), pe.init_k.eq(f["k"]),
                pe.wb_valid.eq(f["wb_valid"]), pe.wb_k.eq(f["k"]),
                pe.host_mode.eq(f["host_mode"]), pe.host_we.eq(f["host_we"]),
                pe.host_re.eq(f["host_re"]), pe.host_mem.eq(f["host_mem"]),
                pe.host_addr.eq(f["host_addr"]), pe.host_wdata.eq(f["host_wdata"]),
                pe.host_sel.eq(f["host_pe"] == i), pe.flush.eq(f["flush"]),
            ]
            m.d.comb += [pe.cb_we.eq(f["cb_we"]), pe.cb_index.eq(f["cb_index"]),
                         pe.cb_data.eq(f["cb_data"])]

        # with pe_stage, each PE's write enables are decoded into its own leaf register from
        # the level above (shared by 4 PEs): the write, this PE's number, the memory, one-hot;
        # the same cycle as the other leaves' (the PE's decode after its leaf, placed far from
        # the PE's block RAMs, was a 48-PE ULX3S build's critical path, 96.65 MHz). The leaf
        # carries no reset: it is decoded anew every cycle from wsrc_q, which does (the unit's
        # reset net across the die into a leaf's reset LUT was the next 48-PE critical path,
        # 98.03 MHz); nor do the PEs' dequeue copies below, for the same net
        if t.pe_stage:
            wsrc = Cat(req_we & is_pe_mem & host_mode, mem_code, req_pe)
            wsrc_q = Signal(len(wsrc))
            m.d.sync += wsrc_q.eq(wsrc)
            parents = fanout(m, wsrc_q, n, Fl - 1, name="wen", reset_less=True)
            for i, (pe, par) in enumerate(zip(pes, parents)):
                we, mem, pe_no = par[0], par[1:1 + len(mem_code)], par[1 + len(mem_code):]
                wen = Signal(len(HOST_MEMS), name=f"wen_leaf{i}", reset_less=True,
                             attrs={FANOUT_ATTR: 1})
                m.d.sync += wen.eq(Mux(we & (pe_no == i), 1 << mem, 0))
                m.d.comb += pe.host_wen.eq(wen)

        # -- slice scan: flags back to the LNZD -------------------------------------------------
        flags = Cat(*[delay(dp, pe.flag, Gl, name=f"flag{i}", reset_less=True)
                       for i, pe in enumerate(pes)])
        flags_q = Signal(n)
        dp.d.sync += flags_q.eq(flags)
        # the slice's valid and k, delayed alongside (pf register -> flags_q)
        pf_q = Signal(1 + kw)
        dp.d.sync += pf_q.eq(Cat(ctl.pf_valid, ctl.pf_k))
        arrive = delay(dp, pf_q, 2 + Fl + t.mem_latency + Gl, name="slice")
        count = popcount(dp, flags_q, n, levels=t.popcount, name="slice_count")
        mask = delay(dp, flags_q, t.popcount, name="slice_mask")
        arrive = delay(dp, arrive, t.popcount, name="slice_pc")
        m.d.comb += [
            lnzd.slice_valid.eq(arrive[0] & ctl.computing),
            lnzd.slice_k.eq(arrive[1:]),
            lnzd.slice_mask.eq(mask),
            lnzd.slice_count.eq(count),
            lnzd.enable.eq(ctl.computing),
            ctl.issue.eq(lnzd.issue),
            ctl.retire.eq(lnzd.retire),
            ctl.stall.eq(lnzd.stall),
        ]

        # -- credits: issued broadcasts against the slowest PE's dequeues ----------------------
        dw = deq_width(p)
        issued = Signal(dw)
        with dp.If(ctl.clear):
            dp.d.sync += issued.eq(0)
        with dp.Elif(lnzd.issue):
            dp.d.sync += issued.eq(issued + 1)
        # room is a register: whether the next issue finds a slot, given this cycle's
        # issue and the minimum tree's result (a dequeue reaches it credit_latency - 1
        # cycles later; the compares do not wait for the issue)
        # (with pe_stage a register per PE first, which placement puts between the PE and its
        # group's compares: a dequeue count's 5.7 ns route into them was a 48-PE ULX3S build's
        # critical path, 92.39 MHz)
        deqs = [delay(dp, pe.dequeues, t.pe_stage, name=f"deq_pe{i}", keep=True, reset_less=True)
                for i, pe in enumerate(pes)]
        min_deq, _ = gather_min(dp, deqs, Gl, dw, name="deq", parallel=t.parallel_min)
        room = Signal()
        after = Signal(dw)
        m.d.comb += after.eq(issued - min_deq)
        m.d.sync += room.eq(Mux(lnzd.issue, after < t.queue_slots - 1, after < t.queue_slots))
        m.d.comb += lnzd.room.eq(room)

        # -- grant and retire to the PEs --------------------------------------------------------
        grant_q = Signal(n)
        retire_q = Signal()
        k_q = Signal(kw)
        issue_q = Signal()
        dp.d.sync += [grant_q.eq(Mux(lnzd.issue, lnzd.grant, 0)), retire_q.eq(lnzd.retire),
                      k_q.eq(lnzd.issue_k), issue_q.eq(lnzd.issue)]
        retires = fanout(dp, retire_q, n, Fl, name="retire", reset_less=True, per_leaf=own)
        for i, pe in enumerate(pes):
            m.d.comb += [pe.grant.eq(delay(dp, grant_q[i], Fl, name=f"grant{i}", reset_less=True)),
                         pe.retire.eq(retires[i])]

        # -- broadcast value and pointer addresses ------------------------------------------------
        # g = ptr_base + k * N + pe over the stages the value takes through the OR tree:
        # T+2 k * N and pe, then (when the trees give a stage) j = k * N + pe, then g
        pidx = Signal(max(1, ceil_log2(n)), reset_less=True)
        enc = Const(0, len(pidx))
        for i in range(n):
            enc = enc | Mux(grant_q[i], i, 0)
        kn = Signal(17, reset_less=True)
        v2 = Signal()
        dp.d.sync += [pidx.eq(enc), kn.eq(k_q * n), v2.eq(issue_q)]
        base = ctl.desc.ptr_base
        if Fl + Gl == 0:
            j_d = Signal(17)
            m.d.comb += j_d.eq(kn + pidx)
            v_d = v2
        else:
            j3 = Signal(17, reset_less=True)
            v3 = Signal()
            dp.d.sync += [j3.eq(kn + pidx), v3.eq(v2)]
            stage = delay(dp, Cat(j3, v3), Fl + Gl - 1, name="bcast_j")
            j_d, v_d = stage[:17], stage[17]
        g = Signal(17)
        g1 = Signal(17)
        m.d.comb += [g.eq(j_d + base), g1.eq(j_d + base + 1)]
        value = gather_or(dp, [pe.value_out for pe in pes], Gl, name="value")
        bcast = Signal(50)
        dp.d.sync += bcast.eq(Cat(value, g1[1:17], g[1:17], g[0], v_d))
        bleaves = fanout(dp, bcast, n, Fl, name="bcast", reset_less=True, per_leaf=own)
        for pe, b in zip(pes, bleaves):
            m.d.comb += [pe.bcast_value.eq(b[0:16]), pe.bcast_even.eq(b[16:32]),
                         pe.bcast_odd.eq(b[32:48]), pe.bcast_g_odd.eq(b[48]),
                         pe.bcast_valid.eq(b[49])]

        # -- end of a layer: every PE idle --------------------------------------------------------
        all_idle = gather_and(dp, [pe.idle for pe in pes], Gl, name="idle")
        idle_q = Signal()
        dp.d.sync += idle_q.eq(all_idle)
        m.d.comb += ctl.all_idle.eq(idle_q)

        # -- host bus --------------------------------------------------------------------------------
        hmap = self.host_map
        target = bus.addr[24:32]
        sel_pe = bus.addr[16:24]
        word = bus.addr[0:16]
        # addr_ok and word_bytes registered, as the bus contract allows (the word-range
        # compares behind the link's address into its own register of addr_ok were the
        # iCEBreaker build's path after the central write decode's)
        with m.Switch(target):
            for name, tg in hmap.targets.items():
                with m.Case(tg.id):
                    ok = Const(0, 1)
                    for lo, hi in tg.words:
                        ok = ok | ((word >= lo) & (word < hi))
                    pe_ok = (sel_pe < n) if tg.per_pe else (sel_pe == 0)
                    m.d.sync += [bus.word_bytes.eq(tg.word_bytes), bus.addr_ok.eq(pe_ok & ok)]
            with m.Default():
                m.d.sync += [bus.word_bytes.eq(1), bus.addr_ok.eq(0)]

        idle = ~ctl.busy
        with m.If(req_we & idle & req_to_nl):
            m.d.sync += num_layers.eq(req_wdata)
        m.d.comb += [
            ctl.host_addr.eq(req_word),
            ctl.host_wdata.eq(req_wdata),
            ctl.host_layers_we.eq(req_we & req_to_layers),
            ctl.host_cb_we.eq(req_we & req_to_cb),
        ]

        # reads: request register (h+1) -> PEs (h+1+Fl) -> PE host register (Hs) -> memory (M)
        # -> PE register -> OR tree -> central register (h+3+Fl+Hs+M+Gl) -> answer (h+4+...)
        # (the request decoded into one select per register as it is registered: the
        # target and word compares in front of the 32-bit multiplexer were the 32-PE
        # ULX3S build's next path at 100 MHz)
        central = Signal(64)
        regs = [(CONTROL_REGS["status"], Cat(self.busy, ctl.done)),
                (CONTROL_REGS["num_layers"], num_layers),
                (CONTROL_REGS["cycles"], ctl.cycles),
                (CONTROL_REGS["broadcasts"], ctl.broadcasts),
                (CONTROL_REGS["bcast_stall"], ctl.bcast_stall)]
        # (decoded from the bus address as the request is registered, then a copy: the
        # compares behind req_target were the iCEBreaker build's path at 36 MHz)
        req_to_reg = Signal(len(regs), reset_less=True)
        reg_sel = Signal(len(regs), reset_less=True)
        m.d.sync += [req_to_reg.eq(Cat(*[(bus.addr[24:32] == MEMORY_IDS["control"]) &
                                         (bus.addr[0:16] == addr) for addr, _ in regs])),
                     reg_sel.eq(req_to_reg)]
        m.d.comb += central.eq(or_all(Mux(reg_sel[i], value, 0)
                                       for i, (_, value) in enumerate(regs)))
        is_layers = Signal(reset_less=True)
        ram_read = Signal(reset_less=True)
        m.d.sync += [is_layers.eq(req_to_layers), ram_read.eq(req_to_layers | req_to_cb)]
        # the central memories (block RAM) answer one cycle after the request register. Where
        # memories have registered outputs (mem_latency 2, the ECP5) their word is registered
        # as it leaves the RAM (a block RAM's output into the mux above was the 8-PE ECP5
        # array's critical path) and taken a cycle after the registers'; else it joins them
        ram_sel = Mux(is_layers, ctl.host_layers_rdata, ctl.host_cb_rdata)
        # the central word is held (the bus has one read in flight, hw/common/hostbus.py)
        # until the PEs' answer comes
        req_q = Signal(3)
        central_d = Signal(32, reset_less=True)       # every central word has at most 32 bits
        m.d.sync += req_q.eq(Cat(req_re, ctr_read, req_word[9]))
        if t.mem_latency >= 2:
            ram_word = Signal(16, reset_less=True)
            ram_take = Signal()                       # ram_word answers a read
            m.d.sync += [ram_word.eq(ram_sel), ram_take.eq(req_q[0] & ram_read)]
            with m.If(req_q[0]):
                m.d.sync += central_d.eq(central)
            with m.If(ram_take):
                m.d.sync += central_d.eq(ram_word)
        else:
            with m.If(req_q[0]):
                m.d.sync += central_d.eq(Mux(ram_read, ram_sel, central))
        req_d = delay(m, req_q, self.pe_read_latency + 1, name="rd_req")
        pe_word = gather_or(m, [pe.host_rdata for pe in pes], Gl, name="host_rd")
        pe_word_q = Signal(len(pe_word), reset_less=True)
        m.d.sync += pe_word_q.eq(pe_word)
        is_idle_ctr = req_d[2]
        answer = Signal(64)
        with m.If(req_d[1]):
            m.d.comb += answer.eq(Mux(is_idle_ctr, (ctl.compute_cycles - pe_word_q[:32])[:32],
                                      pe_word_q[:32]))
        with m.Else():
            m.d.comb += answer.eq(central_d | pe_word_q)
        m.d.sync += [bus.rvalid.eq(req_d[0]), bus.rdata.eq(answer)]
        return m
