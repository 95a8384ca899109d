"""Sequencer: fetches the program, issues instructions in order, streams MMULs.

Fetch: the program is straight-line, so the fetch runs ahead of the issue
(FETCH_LATENCY = 4 from start to the first instruction in the issue stage):

    fetch address (register) -> instruction memory (block RAM) -> its output
    register -> decode -> prefetch buffer (PREFETCH + 1 = 4 slots of decoded
    words) -> the issue stage (the slot `ip` and the word's flags, registers)

The fetch runs whenever fewer than PREFETCH fetched instructions wait
outside the issue stage (a registered count), so the block RAM and its
output register never wait for the dispatch decision `go`: `go` only loads
the issue stage's flags and moves the buffer's pointers (the word stays in
its slot). The issue stage
takes the next instruction when it is empty or its instruction issues
(`adv`), so the instruction after one that issues at cycle d is in the
issue stage at d + 1 (three words in flight cover the three cycles from a
fetch to the issue stage). A
slot holds the word, its opcode as one-hot flags and what the issue
checks need precomputed (a + n and b + n for the hazard ranges, n = 0,
n + D, a bad SETQ), so the issue decision compares registers only: the
instruction memory's read, the field decode and the range adders are each
in a cycle of their own. The engines' side is registered as well: the
activation unit's busy is a register, and `all_idle` and the RW and MMUL
checks on the weight loader, row streamer and banks (`rw_ready`,
`mm_ready`) are computed a cycle ahead, for both outcomes of that cycle's
decision and chosen by it, so the decision `go` is a few gates on registers
and the cycles are those of the combinational checks (the cycle model is
unchanged).

One instruction may issue per cycle; it issues when the engine it needs can
take it and its hazards are clear (docs/systolic.md, "Issue rules"):

    NOP, SETQ   always
    RW          weight loader free (idle, or reading its last row) and the
                bank it loads (banks alternate) not being streamed by a MMUL
                other than on its last row; fault if both banks already
                hold tiles no MMUL has used
    MMUL        row streamer free (idle or on its last row), the oldest
                loaded tile complete (its last row read by now), and no
                unified-buffer / accumulator rows shared with a running ACT
                (compared a cycle ahead: not in the cycle it reaches the
                issue stage while an ACT runs); fault if no tile is loaded
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

Performance counters (cleared by start; each counts its event one cycle
late, from a register): cycles run (excluding host waits), MAC-active cycles
(a row enters the array), stall cycles (no row enters the array and the
instruction in the issue stage waits) and of those the ones where it is a
MMUL waiting for its weight tile, host-wait cycles, instructions issued.
"""

from amaranth import Module, Signal, Mux, Cat, unsigned
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .isa import OP, F_OP, F_FLAGS, F_A, F_B, F_N, F_MULT, F_SHIFT, F_LANE
from .lane_memory import LaneMemory
from .layouts import acc_ctl
from ..eie.trees import FANOUT_ATTR, or_all

__all__ = ["Sequencer", "ERROR_CODES", "PREFETCH", "or_all"]

#: status bits [11:8] after a fault
ERROR_CODES = {
    "illegal_opcode": 1,
    "no_tile": 2,          # MMUL without a loaded weight tile
    "banks_full": 3,       # RW while both banks hold unused tiles
    "zero_count": 4,       # MMUL, ACT, RHM or WHM with n = 0
    "bad_quant": 5,        # SETQ multiplier 0 / too wide, or shift too large
}


#: fetched instructions that may wait outside the issue stage (the block
#: RAM, its output register, the prefetch buffer): a fetch at t is in the
#: issue stage at t + 3 at the earliest, so three keep one instruction per
#: cycle flowing while the fetch is decided from a register
PREFETCH = 3

#: the prefetch buffer's slots: PREFETCH and the issue stage's
SLOTS = PREFETCH + 1


def _field(word, f):
    lsb, width = f
    return word[lsb:lsb + width]


class Sequencer(wiring.Component):
    """Ports (d: the cycle an instruction issues from the issue stage; the
    module docstring has the issue rules):

    Control and status:
        start, resume  In, pulses (from the unit's registers): run from
                       instruction 0 (the first instruction is in the issue
                       stage FETCH_LATENCY = 4 cycles later); leave RHM/WHM.
        busy           Out: started and not yet done (host waits included);
                       `active` (Out): busy and not `waiting`; `waiting` (Out):
                       paused at RHM/WHM until `resume`.
        done           Out (register): the program ended (HALT or a fault),
                       until the next start; `error`, `error_code` (Out,
                       registers): with done after a fault, and its cause
                       (ERROR_CODES).
        pc             Out: index of the instruction in the issue stage;
                       `instr` (Out): its word, or the RHM/WHM waited on.

    Row streamer (a MMUL issued at d streams rows on d + 1 .. d + n):
        issue          Out: a row enters the array this cycle (its unified-buffer
                       read, cycle q): `ub_raddr` (Out) its unified-buffer row,
                       `issue_bank` (Out) the weight bank it uses, `acc_ctl` (Out)
                       its accumulator control (valid, row, accumulate), which
                       the Accumulators delay to the row's sums.

    Weight loader:
        wl_start, wl_base, wl_bank
                       Out, combinational at d: an RW dispatch (WeightLoader's
                       start, base, bank); `wl_busy`, `wl_last`, `wl_last_next`,
                       `wl_cur_bank` (In): its busy, last, last_next and cur_bank.

    Activation unit:
        act_start      Out, combinational at d: an ACT dispatch, with its
                       operands `act_acc`, `act_ub`, `act_count`, `act_acc_end`,
                       `act_ub_end`, `act_relu`, `act_mult`, `act_shift`,
                       `act_lane`, `act_wait` (Out, valid in every cycle: the
                       idle ActivationUnit follows them).
        act_busy, act_busy_next, act_acc_lo, act_acc_hi, act_ub_lo, act_ub_hi
                       In: ActivationUnit's busy, busy_next and row ranges
                       (hazards; all from registers).

    Performance counters (Out, registers, cleared by start, each counting its
    event one cycle late): `cnt_cycles`, `cnt_mac_active`, `cnt_stall`,
    `cnt_weight_stall`, `cnt_host_wait`, `cnt_instructions`.
    """

    def __init__(self, params):
        self.params = p = params
        self.imem = LaneMemory(lanes=1, lane_shape=unsigned(64), depth=p.imem_depth,
                               chunk_lanes=1, bus_lane_bits=64,
                               # written by the host only, while the sequencer is not running
                               # (the host's read port then), never read in its write's cycle
                               no_rw_check=True,
                               # the decode reads a copy of the output register (below)
                               read_copy=True)
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
            "wl_busy": In(1), "wl_last": In(1), "wl_last_next": In(1), "wl_cur_bank": In(1),
            # activation unit
            "act_start": Out(1), "act_acc": Out(16), "act_ub": Out(16), "act_count": Out(16),
            "act_acc_end": Out(p.acc_abits + 1), "act_ub_end": Out(p.ub_abits + 1),
            "act_relu": Out(1), "act_mult": Out(p.mult_width), "act_shift": Out(8),
            "act_lane": Out(8),
            "act_wait": Out(range((1 << p.row_count_bits) + p.pipeline_depth + 1)),
            "act_busy": In(1), "act_busy_next": In(1),
            "act_acc_lo": In(p.acc_abits + 1), "act_acc_hi": In(p.acc_abits + 1),
            "act_ub_lo": In(p.ub_abits + 1), "act_ub_hi": In(p.ub_abits + 1),
            # performance counters
            "cnt_cycles": Out(cw), "cnt_mac_active": Out(cw), "cnt_stall": Out(cw),
            "cnt_weight_stall": Out(cw), "cnt_host_wait": Out(cw), "cnt_instructions": Out(cw),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        D = p.pipeline_depth
        m.submodules.imem = imem = self.imem

        # running, waiting and active = running & ~waiting are registers, set
        # from the next values of the first two (`running_n`, `waiting_n`,
        # below): `active` gates the dispatch decision `go`, and from the
        # AND of the two, far apart, it was the 12 x 12 board top's critical
        # path into the issue stage
        running = Signal()
        waiting = Signal()
        active = Signal()
        running_n, waiting_n = Signal(), Signal()
        starting = Signal()
        m.d.comb += [self.busy.eq(running),
                     self.active.eq(active), self.waiting.eq(waiting),
                     starting.eq(self.start & ~running),
                     running_n.eq(running), waiting_n.eq(waiting)]
        m.d.sync += [running.eq(running_n), waiting.eq(waiting_n),
                     active.eq(running_n & ~waiting_n)]

        # -- fetch: fetch address -> block RAM -> output register -> decode
        # (combinational) -> prefetch buffer slot -> issue stage (the slot at
        # `ip`; its flags also as registers, loaded from the buffer or past it
        # when it is empty). The fetch runs whenever fewer than PREFETCH
        # fetched instructions wait outside the issue stage (`fetched`, a
        # register), so the block RAM's clock enable and its output register
        # never wait for the dispatch decision `go`; `go` only loads the issue
        # stage's flags and moves the buffer's pointers. The buffer holds
        # decoded words, so the issue stage's inputs are a multiplexer away
        # from registers (the buffer or the decode of the output register)
        go = Signal()                    # the instruction in the issue stage issues
        adv = Signal()                   # the issue stage takes the next instruction
        v1, v2, v3 = Signal(), Signal(), Signal()   # block RAM, output register, issue stage
        fpc = Signal(p.imem_abits)
        fetched = Signal(range(PREFETCH + 1))
        fetch = Signal()
        m.d.comb += [adv.eq(~v3 | go), fetch.eq(running & (fetched != PREFETCH)),
                     imem.host_owns.eq(~running),
                     imem.raddr0.eq(fpc), imem.ren0.eq(fetch), imem.hold0.eq(0)]
        m.d.sync += [v1.eq(fetch), v2.eq(v1)]
        with m.If(fetch):
            m.d.sync += fpc.eq(fpc + 1)

        # decode: the output register's word -> what the issue stage holds:
        # the word, its opcode as one-hot flags and what the issue checks need
        # precomputed. A + n and B + n: row ranges; row counts (a valid program
        # stays inside the memories, so the row-address width of the larger
        # one and a bit suffice)
        rw = p.row_count_bits
        decoded = data.StructLayout({
            "word": 64,
            **{f"is_{name.lower()}": 1 for name in OP},
            "illegal": 1, "zero_n": 1, "one_n": 1,
            "a_end": rw, "b_end": rw, "n_drain": range((1 << rw) + D + 1),
            "setq_bad": 1,
            "setq_ok": 1,            # SETQ in range
            "mm_ok": 1,              # MMUL with n != 0
            "act_ok": 1,             # ACT with n != 0
            "act_runs": 1,           # ... and rows to read: the activation unit is busy after it
            "host_ok": 1,            # RHM / WHM with n != 0
            "fault_static": 1,       # faults the word alone shows
            # for the dispatch decision `go` (and-ed with the valid bit in
            # the issue stage): NOP or a good SETQ; what waits for everything
            # to be idle (RHM/WHM with n != 0, HALT, a fault the word shows)
            "g_free": 1, "g_idle": 1,
        })
        # the decode reads its fields from a copy of the output register (on the ECP5),
        # the slots' word from the register itself: with one register for both, its bit ->
        # the decode -> the issue stage's g_idle past the buffer was the 12 x 12 board top's
        # critical path (10.19 ns, 8.23 of it routing; 98.13 MHz)
        f2 = imem.rdata0[0]
        f2d = imem.rdata0_copy[0]
        d2 = Signal(decoded)
        fop = _field(f2d, F_OP)
        fn = _field(f2d, F_N)
        fmult, fshift = _field(f2d, F_MULT), _field(f2d, F_SHIFT)
        bad = (fmult == 0) | (fshift > p.max_shift)
        if p.mult_width < 32:
            bad = bad | (fmult >> p.mult_width != 0)
        nz = fn != 0
        is_ill = ~Cat(fop == code for code in OP.values()).any()
        fstatic = (is_ill | ((fop == OP["SETQ"]) & bad) |
                   (((fop == OP["MMUL"]) | (fop == OP["ACT"]) |
                     (fop == OP["RHM"]) | (fop == OP["WHM"])) & ~nz))
        m.d.comb += [d2.word.eq(f2), d2.zero_n.eq(fn == 0), d2.one_n.eq(fn == 1),
                     d2.a_end.eq(_field(f2d, F_A)[:rw] + fn[:rw]),
                     d2.b_end.eq(_field(f2d, F_B)[:rw] + fn[:rw]),
                     d2.n_drain.eq(fn[:rw] + D), d2.setq_bad.eq(bad), d2.illegal.eq(is_ill),
                     d2.setq_ok.eq((fop == OP["SETQ"]) & ~bad),
                     d2.mm_ok.eq((fop == OP["MMUL"]) & nz),
                     d2.act_ok.eq((fop == OP["ACT"]) & nz),
                     d2.act_runs.eq((fop == OP["ACT"]) & (fn[:rw] != 0)),
                     d2.host_ok.eq(((fop == OP["RHM"]) | (fop == OP["WHM"])) & nz),
                     d2.fault_static.eq(fstatic),
                     d2.g_free.eq((fop == OP["NOP"]) | ((fop == OP["SETQ"]) & ~bad)),
                     d2.g_idle.eq((fop == OP["HALT"]) |
                                  (((fop == OP["RHM"]) | (fop == OP["WHM"])) & nz) | fstatic)]
        for name, code in OP.items():
            m.d.comb += d2[f"is_{name.lower()}"].eq(fop == code)

        # the prefetch buffer: SLOTS = PREFETCH + 1 decoded words, a circular
        # queue (one-hot pointers) that every arriving word enters (at `wr`,
        # then wr moves on), also the one the issue stage takes straight away
        # (the buffer empty: it is at `rd` too). The issue stage is a slot:
        # its word stays where it arrived, at `ip` (the slot `rd` was when the
        # issue stage took it), until the next is taken, so the dispatch
        # decision `go` loads only the issue stage's flags and the pointers;
        # the instruction's fields are a multiplexer of the slots by `ip` (a
        # register). `go` as the clock enable of the whole decoded word in the
        # issue stage (~130 bits) was the 12 x 12 board top's critical path.
        # The word in the issue stage is in slot rd - 1 and at most PREFETCH
        # wait outside it (`fetched`), of which an arriving one, so an
        # arriving word is written at rd .. rd + 2, never into the issue
        # stage's slot. The buffer's enables are registers (v2, wr), not `go`.
        # (no reset: a slot is read only while the count or v3 says it holds a
        # word, and the count, pointers and flags are reset; abort's net to the
        # slots' bits was the 12 x 12 unit's critical path, 7.85 ns)
        buf = [Signal(decoded, name=f"pf{i}", reset_less=True) for i in range(SLOTS)]
        rd = Signal(SLOTS, init=1)
        wr = Signal(SLOTS, init=1)
        # a copy of ip for the activation unit's operands (kept apart by
        # synthesis; where the platform asks for fan-out copies, the ECP5's:
        # on the iCE40 at 24 MHz it is only a second slot multiplexer, 88 LC
        # that the full UP5K does not have): the idle activation unit follows them into its
        # registers, the accumulator read address among them, and ip -> 4.1 ns
        # -> the slot multiplexer -> the read address was the 12 x 12 board
        # top's critical path with one ip for every field. Both carry the
        # attribute: Yosys merges a kept register with an identical one that is
        # not kept, and did so here until 2026-12-02 (ip -> 5.47 ns -> the same
        # multiplexer -> the read address: a build of the same unit at 89.55 MHz)
        ip = Signal(SLOTS, init=1, attrs={FANOUT_ATTR: 1})
        copies = getattr(platform, "eiegen_fanout_copies", True)
        ip_act = Signal(SLOTS, init=1, name="ip_act", attrs={FANOUT_ATTR: 1}) if copies else ip
        nonempty = Signal()
        count = Signal(range(SLOTS + 1))
        def slot(sel):                   # the word of the slot one-hot `sel` names
            return or_all(Mux(sel[i], buf[i].as_value(), 0) for i in range(SLOTS))

        head = Signal(decoded)
        m.d.comb += head.eq(Mux(nonempty, slot(rd), d2.as_value()))
        have = Signal()                  # an instruction for the issue stage
        take = Signal()
        m.d.comb += [have.eq(nonempty | v2), take.eq(running & adv & have)]
        for i in range(SLOTS):
            with m.If(v2 & wr[i]):
                m.d.sync += buf[i].eq(d2)
        with m.If(v2):
            m.d.sync += wr.eq(wr.rotate_left(1))
        with m.If(take):
            m.d.sync += [rd.eq(rd.rotate_left(1)), ip.eq(rd), *([ip_act.eq(rd)] if copies else [])]
        count_next = count + v2 - take
        m.d.sync += [count.eq(count_next), nonempty.eq(count_next != 0),
                     fetched.eq(fetched + fetch - take)]
        with m.If(running & adv):
            m.d.sync += v3.eq(have)
        with m.If(starting):
            m.d.sync += [fpc.eq(0), v1.eq(0), v2.eq(0), v3.eq(0), rd.eq(1), wr.eq(1),
                         count.eq(0), nonempty.eq(0), fetched.eq(0)]

        # the issue stage: the decoded word's fields from its slot; its flags
        # as registers, and the dispatch flags with the valid bit folded in
        # (`ig_*`: NOP or a good SETQ; RW; MMUL, n != 0; ACT, n != 0; what
        # waits for everything to be idle)
        cur = Signal(decoded)
        cur_act = Signal(decoded)          # the same, by ip_act: the ACT's operands
        m.d.comb += [cur.eq(slot(ip)), cur_act.eq(slot(ip_act) if copies else cur)]
        word = Signal(64)
        is_op = {name: Signal(name=f"is_{name.lower()}") for name in OP}
        illegal, zero_n, one_n = Signal(), Signal(), Signal()
        a_end, b_end = Signal(rw), Signal(rw)
        n_drain = Signal(range((1 << rw) + D + 1))
        m.d.comb += [word.eq(cur.word), a_end.eq(cur.a_end), b_end.eq(cur.b_end),
                     n_drain.eq(cur.n_drain)]
        setq_bad, setq_ok, mm_ok, act_ok, act_runs, host_ok, fault_static = (
            Signal(name=n) for n in ("setq_bad", "setq_ok", "mm_ok", "act_ok", "act_runs",
                                     "host_ok", "fault_static"))
        ig_free, ig_rw, ig_mm, ig_act, ig_idle = (
            Signal(name=f"ig_{n}") for n in ("free", "rw", "mm", "act", "idle"))
        with m.If(running & adv):
            m.d.sync += [illegal.eq(head.illegal), zero_n.eq(head.zero_n),
                         one_n.eq(head.one_n), setq_bad.eq(head.setq_bad),
                         setq_ok.eq(head.setq_ok), mm_ok.eq(head.mm_ok), act_ok.eq(head.act_ok),
                         act_runs.eq(head.act_runs), host_ok.eq(head.host_ok),
                         fault_static.eq(head.fault_static)]
            m.d.sync += [is_op[name].eq(head[f"is_{name.lower()}"]) for name in OP]
            m.d.sync += [ig_free.eq(have & head.g_free), ig_rw.eq(have & head.is_rw),
                         ig_mm.eq(have & head.mm_ok), ig_act.eq(have & head.act_ok),
                         ig_idle.eq(have & head.g_idle)]
        with m.If(starting):
            m.d.sync += [ig_free.eq(0), ig_rw.eq(0), ig_mm.eq(0), ig_act.eq(0), ig_idle.eq(0)]
        flags = _field(word, F_FLAGS)
        fa, fb, fn = _field(word, F_A), _field(word, F_B), _field(word, F_N)
        held_op = Signal(4)          # the RHM/WHM being waited on (its fields: op, a, n)
        held_a = Signal(p.ub_abits)
        held_n = Signal(p.row_count_bits)
        held = Signal(64)
        for f, v in ((F_OP, held_op), (F_A, held_a), (F_N, held_n)):
            m.d.comb += _field(held, f).eq(v)
        pc = Signal(p.imem_abits)
        m.d.comb += [self.instr.eq(Mux(waiting, held, word)), self.pc.eq(pc)]

        # -- row streamer state
        s_left = Signal(rw)
        s_ub = Signal(p.ub_abits)
        s_acc = Signal(p.acc_abits)
        s_accum = Signal()
        s_bank = Signal()
        s_busy = Signal()            # s_left != 0
        s_last = Signal()            # s_left == 1

        # -- weight banks: RW loads `load_bank`, MMUL uses `use_bank`; `avail`
        # tiles issued by RW and not yet used by a MMUL (0..2)
        load_bank = Signal()
        use_bank = Signal()
        avail = Signal(range(3))
        tile_ready = Signal()
        m.d.comb += tile_ready.eq(~(self.wl_busy & ~self.wl_last & (self.wl_cur_bank == use_bank)))

        # -- drain: with s_end the issue cycle of the last row streamed,
        # drain = max(0, s_end + D + 1 - t): 0 once every row is in the
        # accumulators; an ACT dispatched at d reads from d + max(1, drain)
        drain = Signal(range((1 << rw) + D + 1))
        mm_go = Signal()
        with m.If(mm_go):
            m.d.sync += drain.eq(n_drain)
        with m.Elif(drain != 0):
            m.d.sync += drain.eq(drain - 1)
        # all_idle = ~s_busy & ~wl_busy & ~act_busy & (drain == 0), as a register:
        # each engine's state next cycle unless it is dispatched in this one,
        # and not idle if the instruction in the issue stage is one that can
        # dispatch an engine (a MMUL, RW or ACT that does not fault). That
        # instruction either issues (its engine is busy next cycle) or waits
        # (and is still in the issue stage, which only checks all_idle for
        # RHM, WHM, HALT and faults), so all_idle is exact wherever it is used
        # without waiting for this cycle's dispatch decision.
        all_idle = Signal(init=1)
        may_dispatch = Signal()
        m.d.comb += may_dispatch.eq(v3 & ((mm_ok & (avail != 0)) | (is_op["RW"] & (avail != 2)) |
                                          act_runs))
        m.d.sync += all_idle.eq(~may_dispatch & (~s_busy | s_last) &
                                (~self.wl_busy | self.wl_last) & ~self.act_busy_next &
                                (drain <= 1))

        # -- the issue checks of RW and MMUL (the module docstring's rules), as
        # registers computed a cycle ahead: `rw_ready`, `mm_ready` at t + 1 are
        # the checks on the state at t + 1, computed at t twice, once for the
        # state if the instruction in the issue stage at t issues (its flags
        # say what it dispatches) and once if nothing issues, and chosen by
        # `go`; so the dispatch decision compares registers only (no engine's
        # busy or bank logic in front of it) and the cycles are unchanged.
        #   RW:   avail != 2, weight loader free (idle or on its last row), and
        #         not loading the bank a MMUL streams other than on its last row
        #   MMUL: avail != 0, row streamer free, the oldest tile loaded (the
        #         loader not on the bank it uses, or on its last row); and
        #         `act_clear` below
        def checks(st):
            rw_chk = (st["avail_ne2"] & (~st["wl_busy"] | st["wl_last"]) &
                      ~(st["s_busy"] & ~st["s_last"] & (st["s_bank"] == st["load_bank"])))
            mm_chk = (st["avail_ne0"] & (~st["s_busy"] | st["s_last"]) &
                      ~(st["wl_busy"] & ~st["wl_last"] & (st["wl_cur_bank"] == st["use_bank"])))
            return rw_chk, mm_chk

        s_busy_n, s_last_n = s_busy & ~s_last, s_busy & (s_left == 2)
        wl_busy_n = self.wl_busy & ~self.wl_last
        is_rw = is_op["RW"]
        # nothing issues: the engines run on; the instruction stays or the
        # stage was empty
        stay = dict(avail_ne0=avail != 0, avail_ne2=avail != 2,
                    wl_busy=wl_busy_n, wl_last=self.wl_last_next, wl_cur_bank=self.wl_cur_bank,
                    use_bank=use_bank, load_bank=load_bank,
                    s_busy=s_busy_n, s_last=s_last_n, s_bank=s_bank)
        # the instruction issues: its dispatch as well
        issued = dict(avail_ne0=Mux(is_rw, 1, Mux(mm_ok, avail != 1, avail != 0)),
                      avail_ne2=Mux(is_rw, avail != 1, Mux(mm_ok, 1, avail != 2)),
                      wl_busy=is_rw | wl_busy_n,
                      wl_last=Mux(is_rw, int(p.rows == 1), self.wl_last_next),
                      wl_cur_bank=Mux(is_rw, load_bank, self.wl_cur_bank),
                      use_bank=use_bank ^ mm_ok, load_bank=load_bank ^ is_rw,
                      s_busy=mm_ok | s_busy_n, s_last=Mux(mm_ok, one_n, s_last_n),
                      s_bank=Mux(mm_ok, use_bank, s_bank))
        rw_ready = Signal(init=1)      # the checks on the reset state (avail = 0)
        mm_ready = Signal()
        (rw_stay, mm_stay), (rw_issued, mm_issued) = checks(stay), checks(issued)
        m.d.sync += [rw_ready.eq(Mux(go, rw_issued, rw_stay)),
                     mm_ready.eq(Mux(go, mm_issued, mm_stay))]

        # -- hazards of a MMUL against the running ACT (no shared unified-buffer
        # / accumulator rows): compared into a register, so the dispatch uses
        # last cycle's comparison; an instruction that has just entered the
        # issue stage (`fresh`) has none yet and waits a cycle while the
        # activation unit is busy (the cycle model's rule)
        # The comparison is made for the word of every slot and the issue
        # stage's chosen by `ip` after it (the same, ip is one-hot): the slot
        # multiplexer in front of the range comparators was the 12 x 12 board
        # top's critical path (ip -> 3.8 ns -> the word's fields -> carry chains)
        def overlap_of(dw):
            return (((_field(dw.word, F_A)[:rw] < self.act_ub_hi) & (self.act_ub_lo < dw.a_end)) |
                    ((_field(dw.word, F_B)[:rw] < self.act_acc_hi) & (self.act_acc_lo < dw.b_end)))
        overlap = or_all(ip[i] & overlap_of(buf[i]) for i in range(SLOTS))
        clear_q = Signal()
        fresh = Signal()
        m.d.sync += [clear_q.eq(~overlap), fresh.eq(adv)]
        act_clear = Signal()
        m.d.comb += act_clear.eq(~self.act_busy | (clear_q & ~fresh))

        # -- requantisation registers (SETQ)
        q_mult = Signal(p.mult_width, init=1)
        q_shift = Signal(8)

        # -- issue decision for the instruction in the issue stage: one `go` per
        # opcode from registered flags and the engines' state (the opcode is
        # one-hot, so no engine's dispatch waits for another's checks); a
        # fault stops the program once everything has drained, like HALT
        ok = Signal()
        m.d.comb += ok.eq(active & v3)
        gos = {
            "NOP": ok & is_op["NOP"],
            "SETQ": ok & setq_ok,
            "RW": ok & is_rw & rw_ready,
            "MMUL": ok & mm_ok & mm_ready & act_clear,
            "ACT": ok & act_ok & ~self.act_busy,
            "HOST": ok & host_ok & all_idle,
            "HALT": ok & is_op["HALT"] & all_idle,
        }
        fault = Signal()
        fault_code = Signal(4)
        m.d.comb += fault.eq(ok & (fault_static | (is_op["RW"] & (avail == 2)) |
                                   (mm_ok & (avail == 0))))
        with m.If(illegal):
            m.d.comb += fault_code.eq(ERROR_CODES["illegal_opcode"])
        with m.Elif(is_op["SETQ"]):
            m.d.comb += fault_code.eq(ERROR_CODES["bad_quant"])
        with m.Elif(is_op["RW"]):
            m.d.comb += fault_code.eq(ERROR_CODES["banks_full"])
        with m.Elif(zero_n):
            m.d.comb += fault_code.eq(ERROR_CODES["zero_count"])
        with m.Else():
            m.d.comb += fault_code.eq(ERROR_CODES["no_tile"])
        halt = Signal()        # HALT or fault issuing: stop
        pause = Signal()
        w_stall = Signal()
        m.d.comb += [halt.eq(gos["HALT"] | (fault & all_idle)), pause.eq(gos["HOST"]),
                     # the same as any of gos or a fault with all_idle, from the
                     # issue flags (valid bit folded in) and fewer terms
                     go.eq(active & (ig_free | (ig_rw & (rw_ready | ((avail == 2) & all_idle))) |
                                     (ig_mm & ((mm_ready & act_clear) |
                                             ((avail == 0) & all_idle))) |
                                     (ig_act & ~self.act_busy) | (ig_idle & all_idle))),
                     w_stall.eq(mm_ok & (avail != 0) & ~tile_ready)]

        # program counter: the index of the instruction in the issue stage
        with m.If(go & ~halt):
            m.d.sync += pc.eq(pc + 1)

        # start / stop / pause
        with m.If(starting):
            m.d.comb += [running_n.eq(1), waiting_n.eq(0)]
            m.d.sync += [pc.eq(0), self.done.eq(0),
                         self.error.eq(0), self.error_code.eq(0),
                         load_bank.eq(0), use_bank.eq(0), avail.eq(0),
                         q_mult.eq(1), q_shift.eq(0)]
        with m.If(halt):
            m.d.comb += running_n.eq(0)
            m.d.sync += self.done.eq(1)
            with m.If(fault):
                m.d.sync += [self.error.eq(1), self.error_code.eq(fault_code)]
        with m.If(pause):
            m.d.comb += waiting_n.eq(1)
            m.d.sync += [held_op.eq(_field(word, F_OP)), held_a.eq(fa), held_n.eq(fn)]
        with m.If(waiting & self.resume):
            m.d.comb += waiting_n.eq(0)

        # SETQ
        with m.If(gos["SETQ"]):
            m.d.sync += [q_mult.eq(_field(word, F_MULT)), q_shift.eq(_field(word, F_SHIFT))]

        # RW -> weight loader
        rw_go = gos["RW"]
        m.d.comb += [mm_go.eq(gos["MMUL"]), self.wl_start.eq(rw_go), self.wl_base.eq(fa),
                     self.wl_bank.eq(load_bank)]
        with m.If(rw_go):
            m.d.sync += [load_bank.eq(~load_bank), avail.eq(avail + 1)]
        with m.If(mm_go):
            m.d.sync += [use_bank.eq(~use_bank), avail.eq(avail - 1)]

        # MMUL -> row streamer
        m.d.comb += [self.issue.eq(s_busy), self.ub_raddr.eq(s_ub), self.issue_bank.eq(s_bank),
                     self.acc_ctl.valid.eq(s_busy), self.acc_ctl.addr.eq(s_acc),
                     self.acc_ctl.accumulate.eq(s_accum)]
        with m.If(s_busy):
            m.d.sync += [s_left.eq(s_left - 1), s_ub.eq(s_ub + 1), s_acc.eq(s_acc + 1),
                         s_busy.eq(~s_last), s_last.eq(s_left == 2)]
        with m.If(mm_go):
            m.d.sync += [s_left.eq(fn[:rw]), s_ub.eq(fa), s_acc.eq(fb), s_bank.eq(use_bank),
                         s_accum.eq(flags[0]), s_busy.eq(1), s_last.eq(one_n)]

        # ACT -> activation unit
        aw = cur_act.word
        m.d.comb += [self.act_start.eq(gos["ACT"]), self.act_acc.eq(_field(aw, F_A)),
                     self.act_ub.eq(_field(aw, F_B)), self.act_count.eq(_field(aw, F_N)),
                     self.act_acc_end.eq(cur_act.a_end), self.act_ub_end.eq(cur_act.b_end),
                     self.act_relu.eq(_field(aw, F_FLAGS)[0]), self.act_mult.eq(q_mult),
                     self.act_lane.eq(_field(aw, F_LANE)),
                     self.act_shift.eq(q_shift), self.act_wait.eq(drain)]

        # performance counters, each from a registered event
        counters = [self.cnt_cycles, self.cnt_mac_active, self.cnt_stall, self.cnt_weight_stall,
                    self.cnt_host_wait, self.cnt_instructions]
        stalled = active & v3 & ~go & ~s_busy      # no row issues and the instruction waits
        events = [active, s_busy, stalled, stalled & w_stall, waiting, go]
        ev = Signal(len(events))
        m.d.sync += ev.eq(Cat(events))
        with m.If(starting):
            m.d.sync += [c.eq(0) for c in counters]
            m.d.sync += ev.eq(0)
        with m.Else():
            for i, c in enumerate(counters):
                with m.If(ev[i]):
                    m.d.sync += c.eq(c + 1)
        return m
