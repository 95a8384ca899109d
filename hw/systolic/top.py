"""SystolicUnit: the whole matrix unit behind the host bus.

    host bus ──┬─ regs (0x20): control, status, ID, performance counters
               ├─ imem (0x21) ── Sequencer ──────────────┐ RW / MMUL / ACT
               ├─ wmem (0x22) ── WeightLoader ─ Skew ─┐  │
               ├─ ub   (0x23) ── UnifiedBuffer ─ Skew ─ SystolicArray
               │        ^ ACT writes                    │ Deskew
               │        └──────── ActivationUnit ── Accumulators
               └─ acc  (0x24) ─────────────────────────┘

Besides the bus (`bus`, In(HostBusSignature())), `start` starts the program
at instruction 0, `done` is high from the end of a program until the next
start, `busy` while it runs, `waiting` while it waits at RHM/WHM for the
host (which sets `resume` through the control register), `error` with
`done` after a fault. The memories can be reached over the bus while the
unit is not running (imem) or not active (the others: also while waiting
for the host); elsewhere addr_ok is low and accesses are ignored.
Bus map and bit layouts: docs/systolic.md.
"""

from amaranth import Module, Signal, Mux, Cat, Const, ResetInserter, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..common.hostbus import HostBusSignature
from .params import TARGETS, REGS
from .layouts import act_beat
from .sequencer import Sequencer
from .weight_loader import WeightLoader
from .unified_buffer import UnifiedBuffer
from .array import SystolicArray
from .skew import Skew
from .deskew import Deskew
from .accumulators import Accumulators
from .activation import ActivationUnit

__all__ = ["SystolicUnit"]


class SystolicUnit(wiring.Component):
    def __init__(self, params):
        self.params = params
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "done": Out(1),
            "busy": Out(1),
            "waiting": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        R, C = p.rows, p.cols
        bus = self.bus

        abort = Signal()
        seq = Sequencer(p)
        wl = WeightLoader(p)
        ub = UnifiedBuffer(p)
        arr = SystolicArray(p)
        askew = Skew(R, act_beat(p))
        deskew = Deskew(C, signed(p.acc_width))
        accs = Accumulators(p)
        act = ActivationUnit(p)
        self._seq, self._wl, self._act = seq, wl, act       # for tests that watch them
        m.submodules.sequencer = ResetInserter(abort)(seq)
        m.submodules.weight_loader = ResetInserter(abort)(wl)
        m.submodules.unified_buffer = ub
        m.submodules.array = arr
        m.submodules.act_skew = askew
        m.submodules.deskew = deskew
        m.submodules.accumulators = ResetInserter(abort)(accs)
        m.submodules.activation = ResetInserter(abort)(act)

        # -- sequencer <-> engines
        m.d.comb += [
            wl.start.eq(seq.wl_start), wl.base.eq(seq.wl_base), wl.bank.eq(seq.wl_bank),
            seq.wl_busy.eq(wl.busy), seq.wl_last.eq(wl.last), seq.wl_cur_bank.eq(wl.cur_bank),
            act.start.eq(seq.act_start), act.acc_addr.eq(seq.act_acc), act.ub_addr.eq(seq.act_ub),
            act.count.eq(seq.act_count), act.relu.eq(seq.act_relu), act.mult.eq(seq.act_mult),
            act.shift.eq(seq.act_shift), act.wait.eq(seq.act_wait),
            seq.act_busy.eq(act.busy),
            seq.act_acc_lo.eq(act.acc_lo), seq.act_acc_hi.eq(act.acc_hi),
            seq.act_ub_lo.eq(act.ub_lo), seq.act_ub_hi.eq(act.ub_hi),
        ]
        # -- datapath: unified buffer -> skew -> array <- weights; array -> deskew -> accumulators
        m.d.comb += ub.raddr0.eq(seq.ub_raddr)
        issue_q = Signal()
        bank_q = Signal()
        m.d.sync += [issue_q.eq(seq.issue), bank_q.eq(seq.issue_bank)]
        for r in range(R):
            m.d.comb += [askew.i[r].data.eq(Mux(issue_q, ub.rdata0[r], 0)),
                         askew.i[r].sel.eq(bank_q)]
        m.d.comb += [arr.a_in.eq(askew.o), arr.w_in.eq(wl.w_out),
                     deskew.i.eq(arr.psum_out),
                     accs.psum_in.eq(deskew.o), accs.ctl_in.eq(seq.acc_ctl)]
        m.d.comb += [accs.act_raddr.eq(act.acc_raddr), act.acc_rdata.eq(accs.act_rdata),
                     ub.waddr.eq(act.ub_waddr), ub.wdata.eq(act.ub_wdata),
                     ub.wlanes.eq(act.ub_wlanes), ub.we.eq(act.ub_we)]

        # -- status
        m.d.comb += [self.done.eq(seq.done), self.busy.eq(seq.busy), self.waiting.eq(seq.waiting),
                     self.error.eq(seq.error)]

        # -- host bus
        target = bus.addr[24:32]
        bank = bus.addr[16:24]
        index = bus.addr[0:16]
        host_mem = ~seq.active
        lane_mems = {"wmem": wl.memory, "ub": ub, "acc": accs.memory, "imem": seq.imem}
        m.d.comb += [wl.memory.host_owns.eq(host_mem), ub.host_owns.eq(host_mem),
                     accs.memory.host_owns.eq(host_mem)]
        ok = {}
        for name, mem in lane_mems.items():
            if name == "acc":
                sub_bits = max(0, (p.acc_lanes_padded - 1).bit_length())
                n_sub = C
            elif name == "imem":
                sub_bits, n_sub = 0, 1
            else:
                padded = p.ub_chunks_padded if name == "ub" else p.w_chunks_padded
                sub_bits = max(0, (padded - 1).bit_length())
                n_sub = mem.chunks
            row = index >> sub_bits
            sub = index[:sub_bits] if sub_bits else Const(0, 1)
            allowed = host_mem if name != "imem" else ~seq.busy
            ok[name] = (bank == 0) & (row < mem.depth) & (sub < n_sub) & allowed
            m.d.comb += [mem.h_row.eq(row), mem.h_chunk.eq(sub), mem.h_wdata.eq(bus.wdata),
                         mem.h_we.eq(bus.we & ok[name] & (target == TARGETS[name]))]

        # registers
        id0, id1 = p.id_words()
        status = Cat(seq.busy, seq.done, seq.waiting, seq.error, Const(0, 4),
                     seq.error_code, Const(0, 20), seq.pc)
        regs = {REGS["ctrl"]: status, REGS["instr"]: seq.instr,
                REGS["id0"]: Const(id0, 64), REGS["id1"]: Const(id1, 64),
                REGS["cycles"]: seq.cnt_cycles, REGS["mac_active"]: seq.cnt_mac_active,
                REGS["stall"]: seq.cnt_stall, REGS["weight_stall"]: seq.cnt_weight_stall,
                REGS["host_wait"]: seq.cnt_host_wait, REGS["instructions"]: seq.cnt_instructions}
        reg_ok = Signal()
        reg_val = Signal(64)
        with m.Switch(index):
            for k, v in regs.items():
                with m.Case(k):
                    m.d.comb += [reg_ok.eq(bank == 0), reg_val.eq(v)]
        ok["regs"] = reg_ok

        with m.Switch(target):
            for name, t in TARGETS.items():
                with m.Case(t):
                    m.d.comb += bus.addr_ok.eq(ok[name])
        wb = {"regs": 8, "imem": 8, "wmem": p.chunk_lanes(C) * p.lane_bytes,
              "ub": p.chunk_lanes(p.ub_lanes) * p.lane_bytes, "acc": p.acc_bytes}
        m.d.comb += bus.word_bytes.eq(8)
        with m.Switch(target):
            for name, t in TARGETS.items():
                with m.Case(t):
                    m.d.comb += bus.word_bytes.eq(wb[name])

        # control register writes
        ctrl_we = bus.we & (target == TARGETS["regs"]) & (index == REGS["ctrl"]) & (bank == 0)
        m.d.comb += [seq.start.eq(self.start | (ctrl_we & bus.wdata[0])),
                     seq.resume.eq(ctrl_we & bus.wdata[1]),
                     abort.eq(ctrl_we & bus.wdata[2])]

        # reads: answered the next cycle
        rvalid = Signal()
        rtarget = Signal(8)
        rok = Signal()
        rreg = Signal(64)
        m.d.sync += [rvalid.eq(bus.re), rtarget.eq(target), rreg.eq(reg_val)]
        cur_ok = Signal()
        with m.Switch(target):
            for name, t in TARGETS.items():
                with m.Case(t):
                    m.d.comb += cur_ok.eq(ok[name])
        m.d.sync += rok.eq(cur_ok)
        m.d.comb += bus.rvalid.eq(rvalid)
        with m.If(rok):
            with m.Switch(rtarget):
                with m.Case(TARGETS["regs"]):
                    m.d.comb += bus.rdata.eq(rreg)
                for name, mem in lane_mems.items():
                    with m.Case(TARGETS[name]):
                        m.d.comb += bus.rdata.eq(mem.h_rdata)
        return m
