"""Sequencer: fetches the program, issues instructions in order, streams MMULs.

One instruction may issue per cycle; it issues when the engine it needs can
take it and its hazards are clear (docs/systolic.md, "Issue rules"):

    NOP, SETQ   always
    RW          weight loader free (idle, or reading its last row) and the
                bank it loads (banks alternate) not being streamed by a MMUL
                other than on its last row; fault if both banks already
                hold tiles no MMUL has used
    MMUL        row streamer free (idle or on its last row), the oldest
                loaded tile complete (its last row read by now), and no
                unified-buffer / accumulator rows shared with a running ACT;
                fault if no tile is loaded
    ACT         activation unit idle; it starts reading once every row of
                the MMULs issued before it (the one streaming included) has
                reached the accumulators
    RHM, WHM    everything idle and drained; then pause until `resume`
    HALT        everything idle and drained; then `done`

A fault (unknown opcode, n = 0, no tile, banks full, SETQ out of range)
waits like HALT and stops with `error` and its cause in the status.

The row streamer reads unified-buffer row ub+i on the i-th cycle after the
MMUL issued and hands the accumulator control (row acc+i, add/overwrite) to
the delay line in front of the accumulators.

Performance counters (cleared by start): cycles run (excluding host waits),
MAC-active cycles (a row enters the array), stall cycles (no row enters the
array and the instruction at the program counter waits) and of those the
ones where it is a MMUL waiting for its weight tile, host-wait cycles,
instructions issued. cycles = mac_active + stall + cycles in which an
instruction issued while no row entered the array.
"""

from amaranth import Module, Signal, Mux, Cat, Const, unsigned
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .isa import OP, F_OP, F_FLAGS, F_A, F_B, F_N, F_MULT, F_SHIFT
from .lane_memory import LaneMemory
from .layouts import acc_ctl

__all__ = ["Sequencer", "ERROR_CODES"]

#: status bits [11:8] after a fault
ERROR_CODES = {
    "illegal_opcode": 1,
    "no_tile": 2,          # MMUL without a loaded weight tile
    "banks_full": 3,       # RW while both banks hold unused tiles
    "zero_count": 4,       # MMUL, ACT, RHM or WHM with n = 0
    "bad_quant": 5,        # SETQ multiplier 0 / too wide, or shift too large
}


def _field(word, f):
    lsb, width = f
    return word[lsb:lsb + width]


class Sequencer(wiring.Component):
    def __init__(self, params):
        self.params = p = params
        self.imem = LaneMemory(lanes=1, lane_shape=unsigned(64), depth=p.imem_depth,
                               chunk_lanes=1, bus_lane_bits=64)
        cw = p.counter_width
        super().__init__({
            "start": In(1),
            "resume": In(1),
            "busy": Out(1),          # started and not yet done (including host waits)
            "active": Out(1),        # busy and not waiting for the host
            "waiting": Out(1),
            "done": Out(1),
            "error": Out(1),
            "error_code": Out(4),
            "pc": Out(16),
            "instr": Out(64),        # the instruction at pc, or the RHM/WHM waited on
            # row streamer -> unified buffer and array
            "ub_raddr": Out(16),
            "issue": Out(1),
            "issue_bank": Out(1),
            "acc_ctl": Out(acc_ctl(p)),
            # weight loader
            "wl_start": Out(1), "wl_base": Out(16), "wl_bank": Out(1),
            "wl_busy": In(1), "wl_last": In(1), "wl_cur_bank": In(1),
            # activation unit
            "act_start": Out(1), "act_acc": Out(16), "act_ub": Out(16), "act_count": Out(16),
            "act_relu": Out(1), "act_mult": Out(p.mult_width), "act_shift": Out(8),
            "act_wait": Out(range((1 << 16) + p.pipeline_depth)),
            "act_busy": In(1),
            "act_acc_lo": In(17), "act_acc_hi": In(17), "act_ub_lo": In(17), "act_ub_hi": In(17),
            # performance counters
            "cnt_cycles": Out(cw), "cnt_mac_active": Out(cw), "cnt_stall": Out(cw),
            "cnt_weight_stall": Out(cw), "cnt_host_wait": Out(cw), "cnt_instructions": Out(cw),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        D = p.pipeline_depth
        m.submodules.imem = imem = self.imem

        running = Signal()
        waiting = Signal()
        active = Signal()
        m.d.comb += [active.eq(running & ~waiting), self.busy.eq(running),
                     self.active.eq(active), self.waiting.eq(waiting)]

        # -- fetch: imem read port 0 gives the word at `pc` (host owns it when idle)
        pc = Signal(16)
        pc_next = Signal(16)
        m.d.comb += [imem.host_owns.eq(~running & ~self.start), self.pc.eq(pc)]
        word = Signal(64)
        held = Signal(64)            # the RHM/WHM being waited on
        m.d.comb += [word.eq(imem.rdata0[0]), self.instr.eq(Mux(waiting, held, word))]
        op = _field(word, F_OP)
        flags = _field(word, F_FLAGS)
        fa, fb, fn = _field(word, F_A), _field(word, F_B), _field(word, F_N)
        fmult, fshift = _field(word, F_MULT), _field(word, F_SHIFT)

        # -- row streamer state
        s_left = Signal(16)
        s_ub = Signal(16)
        s_acc = Signal(16)
        s_accum = Signal()
        s_bank = Signal()
        s_busy = Signal()
        s_last = Signal()
        s_free = Signal()
        m.d.comb += [s_busy.eq(s_left != 0), s_last.eq(s_left == 1), s_free.eq(~s_busy | s_last)]

        # -- weight banks: RW loads `load_bank`, MMUL uses `use_bank`; `avail`
        # tiles issued by RW and not yet used by a MMUL (0..2)
        load_bank = Signal()
        use_bank = Signal()
        avail = Signal(range(3))
        wl_free = Signal()
        m.d.comb += wl_free.eq(~self.wl_busy | self.wl_last)
        tile_ready = Signal()
        m.d.comb += tile_ready.eq(~(self.wl_busy & ~self.wl_last & (self.wl_cur_bank == use_bank)))

        # -- drain: cycles until every issued row has been written to the accumulators
        drain = Signal(range(D + 1))
        drain_next = Signal(range(D + 1))
        m.d.comb += drain_next.eq(Mux(s_busy, D, Mux(drain != 0, drain - 1, 0)))
        m.d.sync += drain.eq(drain_next)
        all_idle = Signal()
        m.d.comb += all_idle.eq(~s_busy & ~self.wl_busy & ~self.act_busy & (drain == 0))

        # -- hazards of a MMUL against the running ACT
        def overlap(lo1, n1, lo2, hi2):
            return (lo1 < hi2) & (lo2 < lo1 + n1)
        ub_hazard = self.act_busy & overlap(fa, fn, self.act_ub_lo, self.act_ub_hi)
        acc_hazard = self.act_busy & overlap(fb, fn, self.act_acc_lo, self.act_acc_hi)

        # -- requantisation registers (SETQ)
        q_mult = Signal(p.mult_width, init=1)
        q_shift = Signal(8)

        # -- issue decision for the instruction at pc
        go = Signal()          # issue this cycle
        fault = Signal()
        fault_code = Signal(4)
        halt = Signal()        # HALT or fault issuing: stop
        pause = Signal()
        w_stall = Signal()
        zero_n = fn == 0
        with m.If(active):
            with m.Switch(op):
                with m.Case(OP["NOP"]):
                    m.d.comb += go.eq(1)
                with m.Case(OP["SETQ"]):
                    bad = (fmult == 0) | (fshift > p.max_shift)
                    if p.mult_width < 32:
                        bad = bad | (fmult >> p.mult_width != 0)
                    m.d.comb += [fault.eq(bad), fault_code.eq(ERROR_CODES["bad_quant"])]
                    m.d.comb += go.eq(~bad)
                with m.Case(OP["RW"]):
                    m.d.comb += [fault.eq(avail == 2), fault_code.eq(ERROR_CODES["banks_full"])]
                    m.d.comb += go.eq((avail != 2) & wl_free &
                                      ~(s_busy & ~s_last & (s_bank == load_bank)))
                with m.Case(OP["MMUL"]):
                    m.d.comb += [fault.eq((avail == 0) | zero_n),
                                 fault_code.eq(Mux(zero_n, ERROR_CODES["zero_count"],
                                                   ERROR_CODES["no_tile"]))]
                    m.d.comb += go.eq(~fault & s_free & tile_ready & ~ub_hazard & ~acc_hazard)
                    m.d.comb += w_stall.eq(~fault & ~tile_ready)
                with m.Case(OP["ACT"]):
                    m.d.comb += [fault.eq(zero_n), fault_code.eq(ERROR_CODES["zero_count"])]
                    m.d.comb += go.eq(~zero_n & ~self.act_busy)
                with m.Case(OP["RHM"], OP["WHM"]):
                    m.d.comb += [fault.eq(zero_n), fault_code.eq(ERROR_CODES["zero_count"])]
                    m.d.comb += go.eq(~zero_n & all_idle)
                    m.d.comb += pause.eq(~zero_n & all_idle)
                with m.Case(OP["HALT"]):
                    m.d.comb += [go.eq(all_idle), halt.eq(all_idle)]
                with m.Default():
                    m.d.comb += [fault.eq(1), fault_code.eq(ERROR_CODES["illegal_opcode"])]
            with m.If(fault):
                m.d.comb += [go.eq(all_idle), halt.eq(all_idle)]

        is_op = lambda name: (op == OP[name]) & go & ~fault

        # program counter and fetch address
        m.d.comb += pc_next.eq(Mux(go & ~halt, pc + 1, pc))
        m.d.comb += imem.raddr0.eq(Mux(self.start & ~running, 0, pc_next))
        m.d.sync += pc.eq(pc_next)

        # start / stop / pause
        with m.If(self.start & ~running):
            m.d.sync += [running.eq(1), waiting.eq(0), pc.eq(0), self.done.eq(0),
                         self.error.eq(0), self.error_code.eq(0),
                         load_bank.eq(0), use_bank.eq(0), avail.eq(0),
                         q_mult.eq(1), q_shift.eq(0)]
        with m.If(halt):
            m.d.sync += [running.eq(0), self.done.eq(1)]
            with m.If(fault):
                m.d.sync += [self.error.eq(1), self.error_code.eq(fault_code)]
        with m.If(pause):
            m.d.sync += [waiting.eq(1), held.eq(word)]
        with m.If(waiting & self.resume):
            m.d.sync += waiting.eq(0)

        # SETQ
        with m.If(is_op("SETQ")):
            m.d.sync += [q_mult.eq(fmult), q_shift.eq(fshift)]

        # RW -> weight loader
        m.d.comb += [self.wl_start.eq(is_op("RW")), self.wl_base.eq(fa), self.wl_bank.eq(load_bank)]
        rw_go = is_op("RW")
        mm_go = is_op("MMUL")
        with m.If(rw_go):
            m.d.sync += [load_bank.eq(~load_bank), avail.eq(avail + 1)]
        with m.If(mm_go):
            m.d.sync += [use_bank.eq(~use_bank), avail.eq(avail - 1)]

        # MMUL -> row streamer
        m.d.comb += [self.issue.eq(s_busy), self.ub_raddr.eq(s_ub), self.issue_bank.eq(s_bank),
                     self.acc_ctl.valid.eq(s_busy), self.acc_ctl.addr.eq(s_acc),
                     self.acc_ctl.accumulate.eq(s_accum)]
        with m.If(s_busy):
            m.d.sync += [s_left.eq(s_left - 1), s_ub.eq(s_ub + 1), s_acc.eq(s_acc + 1)]
        with m.If(mm_go):
            m.d.sync += [s_left.eq(fn), s_ub.eq(fa), s_acc.eq(fb), s_bank.eq(use_bank),
                         s_accum.eq(flags[0])]

        # ACT -> activation unit
        m.d.comb += [self.act_start.eq(is_op("ACT")), self.act_acc.eq(fa), self.act_ub.eq(fb),
                     self.act_count.eq(fn), self.act_relu.eq(flags[0]),
                     self.act_mult.eq(q_mult), self.act_shift.eq(q_shift),
                     # rows still to issue (this cycle's included) + pipeline
                     self.act_wait.eq(Mux(s_busy, s_left - 1 + D, drain_next))]

        # performance counters
        counters = [self.cnt_cycles, self.cnt_mac_active, self.cnt_stall, self.cnt_weight_stall,
                    self.cnt_host_wait, self.cnt_instructions]
        stalled = active & ~go & ~s_busy        # no row issues and the instruction waits
        incs = [active, s_busy, stalled, stalled & w_stall, waiting, go]
        with m.If(self.start & ~running):
            m.d.sync += [c.eq(0) for c in counters]
        with m.Else():
            for c, inc in zip(counters, incs):
                with m.If(inc):
                    m.d.sync += c.eq(c + 1)
        return m
