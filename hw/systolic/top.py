"""SystolicUnit: the whole matrix unit behind the host bus.

    host bus ──┬─ regs (0x20): control, status, ID, performance counters
               ├─ imem (0x21) ── Sequencer ──────────────┐ RW / MMUL / ACT
               ├─ wmem (0x22) ── WeightLoader ─ Skew ─┐  │
               ├─ ub   (0x23) ── UnifiedBuffer ─ Skew ─ SystolicArray
               │        ^ ACT writes                    │ Deskew
               │        └──────── ActivationUnit ── Accumulators
               └─ acc  (0x24) ─────────────────────────┘
"""

from amaranth import Module, Signal, Mux, Cat, Const, ResetInserter, ResetSignal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..common.hostbus import HostBusSignature
from ..eie.trees import FANOUT_ATTR, own_reset
from .params import TARGETS, REGS, MEM_LATENCY
from .lane_memory import HOST_READ_LATENCY
from .layouts import act_beat
from .sequencer import Sequencer, or_all
from .weight_loader import WeightLoader
from .unified_buffer import UnifiedBuffer
from .array import SystolicArray
from .skew import Skew
from .deskew import Deskew
from .accumulators import Accumulators
from .activation import ActivationUnit

__all__ = ["SystolicUnit", "BUS_READ_LATENCY"]

#: cycles from a read request (`re`) to `rvalid`: block RAM, its output
#: register, the chunk's word register (lane_memory.HOST_READ_LATENCY), the
#: unit's read-data register
BUS_READ_LATENCY = HOST_READ_LATENCY + 1


class SystolicUnit(wiring.Component):
    """The whole systolic unit behind the host bus.

    Ports (the unit <-> host link contract, docs/host-link.md):

        bus        In(HostBusSignature()). The initiator drives addr, wdata,
                   we and re from registers and presents addr for at least
                   one cycle before a cycle of we or re (the contract says
                   two; the unit's address decode and the memories' row
                   and chunk are registers behind addr). A write (one cycle of `we`) goes into a
                   register at the end of that cycle, into a memory at
                   the end of the next (registered beside the memory; a
                   read issued two or more cycles after it returns the
                   word, as the contract says); a read (one cycle
                   of `re`) answers with `rvalid` and `rdata`
                   BUS_READ_LATENCY = 4 cycles later (the block RAM, its
                   output register, the chunk's word register and the
                   unit's read-data register; registers likewise); `addr_ok` and `word_bytes` are
                   registered functions of `addr`, valid from the second
                   cycle `addr` is stable.
        start      In, one-cycle pulse: run the program from instruction 0 (also
                   bit 0 of the control register); start, resume and abort take
                   effect the cycle after the pulse (registered)
        abort      In, one-cycle pulse (also bit 2 of the control register):
                   while busy, the sequencer is reset the cycle after the
                   pulse and the weight loader, accumulator pipeline and
                   activation unit the cycle after that, so the unit is idle
                   (busy and done low) two cycles after the pulse; the
                   memories keep their contents (a write in flight
                   in the accumulator or activation pipeline is dropped). No
                   effect while not busy (done stays as it was).
        config_ok  Out, always 1: the unit has no configuration a start could
                   find invalid (faults of a program are reported by `error`)
        busy       Out, from the second cycle after the start pulse (the
                   start acts the cycle after it) until the program ends
                   (including host waits at RHM/WHM)
        done       Out, from the end of a program until the second cycle
                   after the next start pulse, or an abort
        waiting    Out, paused at RHM/WHM until the host sets `resume` (control
                   register bit 1)
        error      Out, with done after a fault (cause in the status register)

    The memories can be reached over the bus while the unit is not running
    (imem) or from the cycle after it stops being active (the others: also
    while waiting for the host); elsewhere addr_ok is low and accesses are
    ignored. Bus map and bit layouts:
    docs/systolic.md.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "abort": In(1),
            "config_ok": Out(1),
            "done": Out(1),
            "busy": Out(1),
            "waiting": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        R, C = p.rows, p.cols

        abort = Signal()
        seq = Sequencer(p)
        wl = WeightLoader(p)
        ub = UnifiedBuffer(p)
        arr = SystolicArray(p)
        # data only, no reset: what is in them is used only with the valid bits
        # of the accumulators' control line (reset), as the PEs' registers are
        askew = Skew(R, act_beat(p), reset_less=True)
        deskew = Deskew(C, signed(p.psum_width(R - 1)), reset_less=True)
        accs = Accumulators(p)
        act = ActivationUnit(p)
        self._seq, self._wl, self._act = seq, wl, act       # for tests that watch them
        # The engines (weight loader, accumulators, activation unit) each run in
        # a clock domain of their own (the same clock) whose reset is one
        # register: the domain's reset or an abort, a cycle later (kept apart by
        # synthesis). `abort` and the reset reach every register of the
        # accumulators' and the weight loader's pipelines, all over the die: from
        # the abort's AND, then from the LUT that ORed it with the reset, those
        # were the 12 x 12 unit's critical paths (9.8 and 6.8 ns of routing).
        # The sequencer, reset first, dispatches nothing in between.
        m.submodules.sequencer = ResetInserter(abort)(seq)
        for name, engine in (("weight_loader", wl), ("accumulators", accs), ("activation", act)):
            rst = Signal(init=1, reset_less=True, name=f"rst_{name}", attrs={FANOUT_ATTR: 1})
            m.d.sync += rst.eq(abort | ResetSignal("sync"))
            m.submodules[name] = own_reset(m, engine, f"sys_{name}", rst)
        m.submodules.unified_buffer = ub
        m.submodules.array = arr
        m.submodules.act_skew = askew
        m.submodules.deskew = deskew
        m.d.comb += self.config_ok.eq(1)

        # -- sequencer <-> engines
        m.d.comb += [
            wl.start.eq(seq.wl_start), wl.base.eq(seq.wl_base), wl.bank.eq(seq.wl_bank),
            seq.wl_busy.eq(wl.busy), seq.wl_last.eq(wl.last), seq.wl_last_next.eq(wl.last_next),
            seq.wl_cur_bank.eq(wl.cur_bank),
            act.start.eq(seq.act_start), act.acc_addr.eq(seq.act_acc), act.ub_addr.eq(seq.act_ub),
            act.acc_end.eq(seq.act_acc_end), act.ub_end.eq(seq.act_ub_end),
            act.count.eq(seq.act_count), act.relu.eq(seq.act_relu), act.mult.eq(seq.act_mult),
            act.shift.eq(seq.act_shift), act.lane.eq(seq.act_lane), act.wait.eq(seq.act_wait),
            seq.act_busy.eq(act.busy), seq.act_busy_next.eq(act.busy_next),
            seq.act_acc_lo.eq(act.acc_lo), seq.act_acc_hi.eq(act.acc_hi),
            seq.act_ub_lo.eq(act.ub_lo), seq.act_ub_hi.eq(act.ub_hi),
        ]
        # -- datapath: unified buffer -> skew -> array <- weights; array -> deskew -> accumulators
        m.d.comb += ub.raddr0.eq(seq.ub_raddr)
        bank_q = seq.issue_bank
        for k in range(MEM_LATENCY):            # the bank select beside the row's read
            nxt = Signal(name=f"bank_d{k + 1}")
            m.d.sync += nxt.eq(bank_q)
            bank_q = nxt
        for r in range(R):
            m.d.comb += [askew.i[r].data.eq(ub.rdata0[r]), askew.i[r].sel.eq(bank_q)]
        m.d.comb += [arr.a_in.eq(askew.o), arr.w_in.eq(wl.w_out),
                     deskew.i.eq(arr.psum_out),
                     accs.psum_in.eq(deskew.o), accs.ctl_in.eq(seq.acc_ctl)]
        m.d.comb += [accs.act_raddr.eq(act.acc_raddr),
                     act.acc_rdata.eq(accs.act_rdata),
                     ub.waddr.eq(act.ub_waddr), ub.wdata.eq(act.ub_wdata),
                     ub.wlanes.eq(act.ub_wlanes), ub.we.eq(act.ub_we)]

        # -- status. start, resume and abort reach the sequencer a cycle after
        # their pulse (registered below); in that cycle the status already
        # shows them (busy, not done, not waiting), so a host that looks right
        # after its pulse or control write never sees the state before it
        start_q, resume_q, abort_q = Signal(), Signal(), Signal()
        st_busy, st_done, st_waiting = Signal(), Signal(), Signal()
        m.d.comb += [st_busy.eq(seq.busy | start_q), st_done.eq(seq.done & ~start_q),
                     st_waiting.eq(seq.waiting & ~resume_q)]
        m.d.comb += [self.done.eq(st_done), self.busy.eq(st_busy), self.waiting.eq(st_waiting),
                     self.error.eq(seq.error)]

        # -- host bus. The initiator drives addr, wdata, we and re from registers
        # and holds addr for two cycles before a cycle of we or re (the
        # contract, hw/common/hostbus.py), so the address decode is registered:
        # `dec_q` (does the word exist in its target, by its address) is a
        # register a cycle behind addr, and a write or read uses it and-ed with
        # whether the host may reach the target now (`allowed`). A write goes
        # into its memory at the end of the next cycle (LaneMemory registers
        # it: the row there is `h_row` below, which holds the write's address
        # the cycle after it, whatever addr does then); a read is answered from the
        # memory's word register HOST_READ_LATENCY cycles later and registered
        # once more (BUS_READ_LATENCY); addr_ok and word_bytes are registered
        # functions of addr.
        # The host owns the weight memory, unified buffer and accumulators from
        # the cycle after the sequencer stops being active (a register per
        # memory, kept apart: their port multiplexers are far from the
        # sequencer); the unit uses none of them in the first cycle it is
        # active, nor after it stops (HALT and RHM/WHM wait for everything
        # to drain; an abort resets the pipelines that write them)
        bus = self.bus
        lane_mems = {"wmem": wl.memory, "ub": ub, "acc": accs.memory, "imem": seq.imem}
        allowed = {}
        for name in ("wmem", "ub", "acc"):
            allowed[name] = Signal(init=1, name=f"host_owns_{name}", attrs={FANOUT_ATTR: 1})
            m.d.sync += allowed[name].eq(~seq.active)
            m.d.comb += lane_mems[name].host_owns.eq(allowed[name])
        # the instruction memory while the sequencer does not run, and not in
        # the cycle a start acts (`start_q`): a write lands a cycle after its
        # `we`, so one then would land as the first fetch reads it. The others'
        # writes land at most in the second cycle the sequencer is active, and
        # the unit reads or writes them no sooner than the third after a
        # start (instruction fetch and issue first); a resume is a control
        # write, two or more cycles from the bus's next memory write
        allowed["imem"] = ~(seq.busy | start_q)
        allowed["regs"] = Const(1)
        target, bank, index = bus.addr[24:32], bus.addr[16:24], bus.addr[0:16]
        bank0 = Signal()
        m.d.comb += bank0.eq(bank == 0)
        in_range = {}                   # the word index exists in the target
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
            in_range[name] = (row < mem.depth) & (sub < n_sub)
            # the memory's row and chunk, registered a cycle behind addr like
            # the decode (a copy per memory, kept apart: the host address from
            # the link into the block RAMs' address multiplexers across the
            # die was the 12 x 12 board top's critical path, 10 ns of routing);
            # a write or read comes two or more cycles after addr, so they hold it then
            row_q = Signal.like(mem.h_row, name=f"h_row_{name}", reset_less=True,
                                attrs={FANOUT_ATTR: 1})
            chunk_q = Signal.like(mem.h_chunk, name=f"h_chunk_{name}", reset_less=True,
                                  attrs={FANOUT_ATTR: 1})
            m.d.sync += [row_q.eq(row), chunk_q.eq(sub)]
            m.d.comb += [mem.h_row.eq(row_q), mem.h_chunk.eq(chunk_q), mem.h_wdata.eq(bus.wdata)]
        in_range["regs"] = Cat(index == k for k in REGS.values()).any()
        dec_q = {}                      # registered: the address names a word of `name`
        for name in TARGETS:
            dec_q[name] = Signal(name=f"dec_{name}")
            m.d.sync += dec_q[name].eq(bank0 & (target == TARGETS[name]) & in_range[name])
        for name, mem in lane_mems.items():
            m.d.comb += mem.h_we.eq(bus.we & dec_q[name] & allowed[name])
        # addr_ok: the word exists in its target (a sum of products, no switch)
        now = {name: (~seq.active if name in ("wmem", "ub", "acc") else allowed[name])
               for name in TARGETS}        # the value `allowed` takes next cycle
        m.d.sync += bus.addr_ok.eq(bank0 & Cat((target == TARGETS[name]) & in_range[name] &
                                               now[name] for name in TARGETS).any())
        wb = {"regs": 8, "imem": 8, "wmem": p.chunk_lanes(C) * p.lane_bytes,
              "ub": p.chunk_lanes(p.ub_lanes) * p.lane_bytes, "acc": p.acc_bytes}
        cur_wb = Signal(4)
        m.d.comb += cur_wb.eq(8)
        with m.Switch(target):
            for name, t in TARGETS.items():
                with m.Case(t):
                    m.d.comb += cur_wb.eq(wb[name])
        m.d.sync += bus.word_bytes.eq(cur_wb)

        id0, id1 = p.id_words()
        status = Cat(st_busy, st_done, st_waiting, seq.error, Const(0, 4),
                     seq.error_code, Const(0, 20), seq.pc)
        regs = {REGS["ctrl"]: status, REGS["instr"]: seq.instr,
                REGS["id0"]: Const(id0, 64), REGS["id1"]: Const(id1, 64),
                REGS["cycles"]: seq.cnt_cycles, REGS["mac_active"]: seq.cnt_mac_active,
                REGS["stall"]: seq.cnt_stall, REGS["weight_stall"]: seq.cnt_weight_stall,
                REGS["host_wait"]: seq.cnt_host_wait, REGS["instructions"]: seq.cnt_instructions}
        # the register the address names, one-hot, registered like dec_q
        reg_sel = {}
        for k in regs:
            reg_sel[k] = Signal(name=f"reg_sel_{k}")
            m.d.sync += reg_sel[k].eq(index == k)
        reg_val = Signal(64)
        m.d.comb += reg_val.eq(or_all(Mux(reg_sel[k], v, 0) for k, v in regs.items()))

        # control register writes
        ctrl_q = Signal()
        m.d.sync += ctrl_q.eq(bank0 & (target == TARGETS["regs"]) & (index == REGS["ctrl"]))
        ctrl_we = bus.we & ctrl_q
        # start, resume and abort (the ports or the control register) act the
        # cycle after: from registers, since each fans out to much of the unit
        m.d.sync += [start_q.eq(self.start | (ctrl_we & bus.wdata[0])),
                     resume_q.eq(ctrl_we & bus.wdata[1]),
                     abort_q.eq(self.abort | (ctrl_we & bus.wdata[2]))]
        m.d.comb += [seq.start.eq(start_q), seq.resume.eq(resume_q),
                     # while idle (not busy) an abort changes nothing, done included
                     abort.eq(abort_q & seq.busy)]

        # reads: the target (one-hot, with whether the word may be read now)
        # and the register value are kept from the request (one read in
        # flight); the memories answer HOST_READ_LATENCY cycles after it, and the
        # answer is registered (rdata, rvalid) a cycle later
        rsel = {name: Signal(name=f"rsel_{name}") for name in TARGETS}
        rreg = Signal(64)
        with m.If(bus.re):
            m.d.sync += [rsel[name].eq(dec_q[name] & allowed[name]) for name in TARGETS]
            m.d.sync += rreg.eq(reg_val)
        rvalid = bus.re
        for k in range(BUS_READ_LATENCY):
            nv = Signal(name=f"rvalid_d{k + 1}")
            m.d.sync += nv.eq(rvalid)
            rvalid = nv
        answers = {"regs": rreg, **{name: mem.h_rdata for name, mem in lane_mems.items()}}
        m.d.comb += bus.rvalid.eq(rvalid)
        m.d.sync += bus.rdata.eq(or_all(Mux(rsel[name], answers[name], 0) for name in TARGETS))
        return m


