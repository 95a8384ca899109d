# amaranth: UnusedElaboratable=no
"""Formal harnesses (Assert / Assume / Cover) of the EIE blocks, checked by
tests/hw/eie/test_formal.py through sim/formal.py.

- `ShadowFIFO`: lib.fifo.SyncFIFO's behaviour with its slots in registers
  (slot 0 the head), so invariants can name what a queue holds; the
  harnesses put it in place of SyncFIFO inside the LNZD, the LNZD lanes and
  the activation queues (`shadow_fifos`; there `ShadowStagedFIFO`, the same
  with StagedFIFO's `w_stage` input, which only writes a free slot), and
  `FIFOEquivalenceSpec` checks it against SyncFIFO and StagedFIFO.
- `AccumulatorSpec`: the arithmetic unit's write-back bypass.
- `BroadcastSpec`: the slice scan, LNZD, credits, broadcast pipeline and
  activation queues of an array of N PEs, wired as hw/eie/array.py wires them.
"""

import contextlib

from amaranth import Module, Signal, Elaboratable, Mux, Cat, Const, ClockDomain, signed, Value
from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO

from eiegen.hw.common.staged_fifo import StagedFIFO

from eiegen.hw.eie import lnzd as lnzd_mod, activation_queue as queue_mod
from eiegen.hw.eie.lnzd import LNZD, LNZDLane, popcount
from eiegen.hw.eie.activation_queue import ActivationQueue
from eiegen.hw.eie.pointer_read import PointerReadUnit
from eiegen.hw.eie.arithmetic_unit import ArithmeticUnit
from eiegen.hw.eie.pe import deq_width
from eiegen.hw.eie.trees import fanout, delay, gather_or, gather_min

__all__ = ["ShadowFIFO", "shadow_fifos", "FIFOEquivalenceSpec", "AccumulatorSpec",
           "BroadcastSpec", "MUTATIONS"]

#: deliberate RTL breakages the tests apply to show each property can fail
MUTATIONS = {}


class ShadowFIFO(SyncFIFO):
    """SyncFIFO's ports and timing (w_rdy = level != depth, r_rdy = level != 0,
    r_data the head, combinational), the slots in registers: slots[0] is the
    head, slots[i] for i < level hold the items in order."""

    def __init__(self, *, width, depth):
        super().__init__(width=width, depth=depth)
        self.slots = [Signal(width, name=f"slot{i}") for i in range(depth)]

    def elaborate(self, platform):
        m = Module()
        d = self.depth
        do_read = self.r_rdy & self.r_en
        do_write = self.w_rdy & self.w_en
        m.d.comb += [
            self.w_rdy.eq(self.level != d), self.r_rdy.eq(self.level != 0),
            self.w_level.eq(self.level), self.r_level.eq(self.level),
            self.r_data.eq(self.slots[0]),
        ]
        at = Signal(range(d + 1))
        m.d.comb += at.eq(self.level - do_read)
        for i in range(d):
            with m.If(do_write & (at == i)):
                m.d.sync += self.slots[i].eq(self.w_data)
            with m.Elif(do_read & (i + 1 < d)):
                m.d.sync += self.slots[i].eq(self.slots[(i + 1) % d])
        with m.If(do_write & ~do_read):
            m.d.sync += self.level.eq(self.level + 1)
        with m.If(do_read & ~do_write):
            m.d.sync += self.level.eq(self.level - 1)
        m.d.comb += Assert(self.level <= d)
        return m


class ShadowStagedFIFO(ShadowFIFO):
    """ShadowFIFO with StagedFIFO's `w_stage` input, which writes only a free
    slot and so changes nothing a port shows: ignored."""

    def __init__(self, *, width, depth):
        super().__init__(width=width, depth=depth)
        self.w_stage = Signal()


@contextlib.contextmanager
def shadow_fifos():
    """SyncFIFO is ShadowFIFO inside hw/eie/lnzd.py and activation_queue.py,
    StagedFIFO is ShadowStagedFIFO inside activation_queue.py."""
    saved = lnzd_mod.SyncFIFO, queue_mod.SyncFIFO, queue_mod.StagedFIFO
    lnzd_mod.SyncFIFO, queue_mod.SyncFIFO, queue_mod.StagedFIFO = ShadowFIFO, ShadowFIFO, ShadowStagedFIFO
    try:
        yield
    finally:
        lnzd_mod.SyncFIFO, queue_mod.SyncFIFO, queue_mod.StagedFIFO = saved


class _Built(Elaboratable):
    def __init__(self, module):
        self.module = module

    def elaborate(self, platform):
        return self.module


def elaborated(component, platform):
    """(elaboratable, module) of a component elaborated now (with shadow
    FIFOs), so a harness can name its submodules and registers."""
    with shadow_fifos():
        mod = component.elaborate(platform)
    mod._flush()
    return _Built(mod), mod


def local(mod, name):
    """The signal `name` a module assigns (a register or wire of its elaborate)."""
    for stmts in mod._statements.values():
        for st in stmts:
            for s in st._lhs_signals():
                if s.name == name:
                    return s
    raise KeyError(name)


class _Spec(Elaboratable):
    """A harness: one sync clock (its only port), no reset: registers start
    at their init values (the base case) or anywhere (the induction step)."""

    def __init__(self):
        self.cd_sync = ClockDomain("sync")
        self.ports = [self.cd_sync.clk]

    def module(self):
        m = Module()
        m.domains.sync = self.cd_sync
        m.d.comb += self.cd_sync.rst.eq(0)
        return m


def _sx(v):
    """An unsigned value as a non-negative signed one (to compare with a -1 start)."""
    return Cat(v, Const(0, 1)).as_signed()


def _popcount(v, width):
    total = Const(0, width.bit_length())
    for i in range(width):
        total = total + v[i]
    return total


# -- ShadowFIFO against SyncFIFO ------------------------------------------------------------------

class FIFOEquivalenceSpec(_Spec):
    """Any sequence of writes and reads: ShadowFIFO and the FIFO `fifo`
    (SyncFIFO, or StagedFIFO with items staged at will: every kept item is
    staged, others may be) have the same level, readiness and head (Amaranth's
    FIFOModelEquivalenceSpec pattern)."""

    def __init__(self, width, depth, fifo=SyncFIFO):
        super().__init__()
        self.width, self.depth, self.fifo = width, depth, fifo

    def elaborate(self, platform):
        m = self.module()
        m.submodules.dut = dut = self.fifo(width=self.width, depth=self.depth)
        m.submodules.gold = gold = ShadowFIFO(width=self.width, depth=self.depth)
        w_en, w_data, r_en = AnySeq(1), AnySeq(self.width), AnySeq(1)
        for f in (dut, gold):
            m.d.comb += [f.w_en.eq(w_en), f.w_data.eq(w_data), f.r_en.eq(r_en)]
        if self.fifo is StagedFIFO:
            m.d.comb += dut.w_stage.eq(w_en | AnySeq(1))
        m.d.comb += [Assert(dut.level == gold.level), Assert(dut.w_rdy == gold.w_rdy),
                     Assert(dut.r_rdy == gold.r_rdy)]
        with m.If(dut.r_rdy):
            m.d.comb += Assert(dut.r_data == gold.r_data)
        m.d.comb += Cover(dut.level == self.depth)
        return m


# -- arithmetic unit: the write-back bypass -----------------------------------------------------

class AccumulatorSpec(_Spec):
    """Entries (row, w, a) at any rate and rows, bias preloads and write-back
    reads between them (never overlapping the MAC stages, as control.py sequences the
    phases): the accumulator memory always equals a plain model in which every
    entry is added, saturated, in issue order, right away; a WB read returns
    the model's value. So the base of every sum is the row's value with every
    earlier entry written (bypass or memory), back to back or not."""

    def __init__(self, params):
        super().__init__()
        self.params = params

    def elaborate(self, platform):
        m = self.module()
        p = self.params
        rows, aw = p.act_depth, p.acc_width
        lo, hi = -(1 << (aw - 1)), (1 << (aw - 1)) - 1
        au = ArithmeticUnit(p)
        built, mod = elaborated(au, platform)
        m.submodules.au = built
        acc_mem = mod.submodules.acc
        mem_rows = []
        for r in range(rows):
            port = acc_mem.read_port(domain="comb")
            m.d.comb += port.addr.eq(r)
            mem_rows.append(port.data)

        valid, init_valid, wb_valid = AnySeq(1), AnySeq(1), AnySeq(1)
        m.d.comb += [au.valid.eq(valid), au.row.eq(AnySeq(len(au.row))), au.w.eq(AnySeq(16)),
                     au.a.eq(AnySeq(16)), au.init_valid.eq(init_valid),
                     au.init_row.eq(AnySeq(len(au.init_row))), au.bias.eq(AnySeq(16)),
                     au.wb_valid.eq(wb_valid), au.wb_row.eq(AnySeq(len(au.wb_row)))]
        # the model: entries enter it when they are written (the last MAC stage: M2, or M3
        # with the write stage, two or three cycles after valid, a cycle later with the
        # product stage); an entry's weight comes a cycle after its row and activation
        stages = 2 + p.timing.product_stage + p.timing.acc_write_stage
        v = [valid] + [Signal(name=f"v{k}") for k in range(1, stages + 1)]
        rr = [au.row] + [Signal.like(au.row, name=f"r{k}") for k in range(1, stages + 1)]
        a1 = Signal(signed(16))
        prod = [Signal(signed(32), name=f"prod{k}") for k in range(stages + 1)]
        m.d.sync += [a1.eq(au.a), prod[2].eq(au.w * a1)]
        for k in range(1, stages + 1):
            m.d.sync += [v[k].eq(v[k - 1]), rr[k].eq(rr[k - 1])]
            if k > 2:
                m.d.sync += prod[k].eq(prod[k - 1])
        in_mac = Cat(*v[1:stages + 1]).any()         # an entry in M1 .. the last stage
        vw, rw_, pw = v[stages], rr[stages], prod[stages]
        # phases never overlap the MAC stages (control.py)
        m.d.comb += [Assume(~(init_valid & (valid | in_mac))),
                     Assume(~(wb_valid & (valid | in_mac)))]
        model = [Signal(signed(aw), name=f"model{r}") for r in range(rows)]
        for row in range(rows):
            total = Signal(signed(aw + 34), name=f"total{row}")
            m.d.comb += total.eq(model[row] + pw)
            with m.If(vw & (rw_ == row)):
                m.d.sync += model[row].eq(Mux(total > hi, hi, Mux(total < lo, lo, total)))
            with m.If(init_valid & (au.init_row == row)):
                m.d.sync += model[row].eq(au.bias.as_signed() << p.frac)
        # rows that exist (act_depth need not be a power of two)
        m.d.comb += [Assume(au.row < rows), Assume(au.init_row < rows), Assume(au.wb_row < rows)]
        # the memory holds the model's value, row for row, at every cycle
        for r in range(rows):
            m.d.comb += Assert(mem_rows[r].as_signed() == model[r])
        wb_q, wb_row_q = Signal(), Signal.like(au.wb_row)
        expect = Signal(signed(aw))
        m.d.sync += [wb_q.eq(wb_valid), wb_row_q.eq(au.wb_row)]
        m.d.sync += expect.eq(Cat(*model).word_select(au.wb_row, aw).as_signed())
        with m.If(wb_q):
            m.d.comb += Assert(au.wb_acc == expect)
        m.d.comb += Assert(au.busy == in_mac)
        # the bypass is exercised: back-to-back entries to one row through every stage
        same = Cat(*[v[k] & (rr[k] == au.row) for k in range(1, stages)]).all()
        m.d.comb += Cover(valid & same)
        return m


# -- the broadcast protocol ----------------------------------------------------------------------

class BroadcastSpec(_Spec):
    """One layer of in_local = act_depth slices on N PEs. The input is any
    map of non-zero activations (`nz`, AnyConst: column j = k * N + pe);
    PE pe's word k is j + 1 where nz[j] is set, else 0 (the LNZD only
    compares words with 0 and moves them, so tagging a word with its column
    loses no case). Each PE's activation queue is read by any stall pattern
    (AnySeq ready). The slice scan (control.py's prefetch), the flags'
    gather, LNZD, credit compare, grant/retire fan-out, value OR-gather,
    broadcast register, fan-out, pointer read units (pointer p[g] = g, so
    `start` is the column) and activation queues are wired as in
    hw/eie/array.py.

    Properties:
    - overflow: no activation queue, LNZD lane queue or LNZD slice backlog
      is written while full;
    - order: the LNZD issues only non-zero columns, strictly increasing,
      skipping no non-zero column; when every slice has retired, every
      non-zero column has been issued;
    - delivery: every issue is written into every PE's queue exactly L - 1
      cycles later (L = timing.bcast_latency) with its value and pointers,
      and nothing else is; every PE dequeues the columns in increasing order.
    The rest are invariants that make the proof inductive."""

    def __init__(self, params):
        super().__init__()
        self.params = params

    def elaborate(self, platform):
        m = self.module()
        p, t = self.params, self.params.timing
        n, A, kw = p.n_pes, p.act_depth, p.act_index_width
        Fl, Gl, M = t.fanout, t.gather, t.mem_latency
        S = t.queue_slots
        assert S == p.queue_depth
        cw = (A * n).bit_length() + 1                 # a column, or -1
        nz = Signal(A * n)
        m.d.comb += nz.eq(AnyConst(A * n))

        def bit(v, i):
            return (v >> i)[0]

        def word(k, pe):
            j = (k * n + pe)[:cw]
            return Mux(bit(nz, j), j + 1, 0)

        def slice_mask(k):
            return (nz >> (k * n))[:n]

        # -- slice scan (control.py COMPUTE prefetch) --------------------------------------------
        lnzd = LNZD(n, kw, t.slice_slots)
        lnzd_built, lnzd_m = elaborated(lnzd, platform)
        m.submodules.lnzd = lnzd_built
        F = t.slice_slots
        pf_k = Signal(range(A + 1))
        outstanding = Signal(range(F + 2))
        pf_valid, pf_retire_q, more, pf_room = Signal(), Signal(), Signal(init=1), Signal(init=1)
        m.d.comb += pf_valid.eq(more & pf_room)
        m.d.sync += [pf_retire_q.eq(lnzd.retire),
                     outstanding.eq(outstanding + pf_valid - pf_retire_q),
                     more.eq(Mux(pf_valid, pf_k + 1 < A, pf_k < A))]
        with m.Switch(Cat(pf_retire_q, pf_valid)):
            with m.Case(0b01):
                m.d.sync += pf_room.eq(outstanding - 1 < F)
            with m.Case(0b10):
                m.d.sync += pf_room.eq(outstanding + 1 < F)
            with m.Default():
                m.d.sync += pf_room.eq(outstanding < F)
        with m.If(pf_valid):
            m.d.sync += pf_k.eq(pf_k + 1)
        cfg = Signal(1 + kw)
        m.d.sync += cfg.eq(Cat(pf_valid, pf_k[:kw]))
        cfg_leaves = fanout(m, cfg, n, Fl, name="cfg")

        # -- the PEs' lanes, pointer read units, queues ----------------------------------------------
        lanes, lane_fifos, queues, queue_fifos, ptrs = [], [], [], [], []
        for i in range(n):
            lane = LNZDLane(t.slice_slots)
            b, lm = elaborated(lane, platform)
            m.submodules[f"lane{i}"] = b
            lanes.append(lane)
            lane_fifos.append(lm.submodules.queue)
            pf_q = delay(m, cfg_leaves[i], M, name=f"pf{i}")       # the data memory's latency
            m.d.comb += [lane.word_valid.eq(pf_q[0]), lane.word.eq(word(pf_q[1:], i))]
            pr = PointerReadUnit(p)
            m.submodules[f"ptr{i}"] = pr
            ptrs.append(pr)
            m.d.comb += [pr.even_rdata.eq(delay(m, pr.even_raddr * 2, M, name=f"even{i}")),
                         pr.odd_rdata.eq(delay(m, pr.odd_raddr * 2 + 1, M, name=f"odd{i}"))]
            q = ActivationQueue(p)
            b, qm = elaborated(q, platform)
            m.submodules[f"queue{i}"] = b
            queues.append(q)
            queue_fifos.append(qm.submodules.fifo)
            wiring.connect(m, pr.out, q.w)
            m.d.comb += q.r.ready.eq(AnySeq(1))

        # -- flags -> LNZD (array.py "slice scan") ---------------------------------------------
        flags = Cat(*[delay(m, lane.flag, Gl, name=f"flag{i}") for i, lane in enumerate(lanes)])
        flags_q = Signal(n)
        m.d.sync += flags_q.eq(flags)
        pf_reg = Signal(1 + kw)
        m.d.sync += pf_reg.eq(Cat(pf_valid, pf_k[:kw]))
        arrive = delay(m, pf_reg, 2 + Fl + M + Gl, name="slice")
        count = popcount(m, flags_q, n, levels=t.popcount, name="slice_count")
        mask = delay(m, flags_q, t.popcount, name="slice_mask")
        arrive = delay(m, arrive, t.popcount, name="slice_pc")
        m.d.comb += [lnzd.slice_valid.eq(arrive[0]), lnzd.slice_k.eq(arrive[1:]),
                     lnzd.slice_mask.eq(mask), lnzd.slice_count.eq(count), lnzd.enable.eq(1)]

        # -- credits ------------------------------------------------------------------------------------
        dw = deq_width(p)
        issued = Signal(dw)
        deqs = [Signal(dw, name=f"deq{i}") for i in range(n)]
        with m.If(lnzd.issue):
            m.d.sync += issued.eq(issued + 1)
        for q, d in zip(queues, deqs):
            with m.If(q.r.valid & q.r.ready):
                m.d.sync += d.eq(d + 1)
        min_deq, _ = gather_min(m, deqs, Gl, dw, name="deq")
        room, after = Signal(), Signal(dw)
        m.d.comb += after.eq(issued - min_deq)
        m.d.sync += room.eq(Mux(lnzd.issue, after < S - 1, after < S))
        m.d.comb += lnzd.room.eq(room)

        # -- grant, retire, broadcast (array.py) -------------------------------------------------------
        grant_q, retire_q, k_q, issue_q = Signal(n), Signal(), Signal(kw), Signal()
        m.d.sync += [grant_q.eq(Mux(lnzd.issue, lnzd.grant, 0)), retire_q.eq(lnzd.retire),
                     k_q.eq(lnzd.issue_k), issue_q.eq(lnzd.issue)]
        retires = fanout(m, retire_q, n, Fl, name="retire")
        for i, lane in enumerate(lanes):
            m.d.comb += [lane.grant.eq(delay(m, grant_q[i], Fl, name=f"grant{i}")),
                         lane.retire.eq(retires[i])]
        pw = max(1, (n - 1).bit_length())
        pidx = Signal(pw)
        enc = Const(0, pw)
        for i in range(n):
            enc = enc | Mux(grant_q[i], i, 0)
        kn, v2 = Signal(17), Signal()
        m.d.sync += [pidx.eq(enc), kn.eq(k_q * n), v2.eq(issue_q)]
        stage = delay(m, Cat(pidx, kn, v2), Fl + Gl, name="bcast_g")
        pidx_d, kn_d, v_d = stage[:pw], stage[pw:pw + 17], stage[-1]
        g, g1 = Signal(17), Signal(17)
        m.d.comb += [g.eq(kn_d + pidx_d), g1.eq(kn_d + pidx_d + 1)]
        value = gather_or(m, [lane.value_out for lane in lanes], Gl, name="value")
        bcast = Signal(50)
        m.d.sync += bcast.eq(Cat(value, g1[1:17], g[1:17], g[0], v_d))
        for pr, b in zip(ptrs, fanout(m, bcast, n, Fl, name="bcast")):
            m.d.comb += [pr.bcast_value.eq(b[0:16]), pr.bcast_even.eq(b[16:32]),
                         pr.bcast_odd.eq(b[32:48]), pr.bcast_g_odd.eq(b[48]),
                         pr.bcast_valid.eq(b[49])]

        # == properties ===============================================================================
        # -- overflow
        for i in range(n):
            with m.If(queues[i].w.valid):
                m.d.comb += Assert(queues[i].w.ready)
            with m.If(lanes[i].word_valid):
                m.d.comb += Assert(lane_fifos[i].w_rdy)
        backlog = lnzd_m.submodules.backlog
        with m.If(backlog.w_en):
            m.d.comb += Assert(backlog.w_rdy)

        # -- order at the LNZD
        pe_of = Signal(pw)
        enc2 = Const(0, pw)
        for i in range(n):
            enc2 = enc2 | Mux(lnzd.grant[i], i, 0)
        m.d.comb += pe_of.eq(enc2)
        j_iss = Signal(cw)
        m.d.comb += j_iss.eq(lnzd.issue_k * n + pe_of)
        last_j = Signal(signed(cw), init=-1)          # the last column issued, -1 before any
        with m.If(lnzd.issue):
            m.d.sync += last_j.eq(j_iss)
        m.d.comb += [Assert(last_j >= -1), Assert(last_j < A * n)]

        def none_between(lo, hi):
            """no non-zero column c with lo < c < hi (lo may be -1)"""
            span = (((Const(1, A * n + 1) << hi) - 1) &
                    ~((Const(1, A * n + 1) << (lo + 1)[:cw]) - 1))[:A * n]
            return (nz & span) == 0

        with m.If(lnzd.issue):
            m.d.comb += [Assert(lnzd.head_valid), Assert(bit(nz, j_iss)),
                         Assert(_sx(j_iss) > last_j), Assert(none_between(last_j, j_iss))]
        ret = Signal(range(A + 1))                    # slices retired by the LNZD
        with m.If(lnzd.retire):
            m.d.sync += ret.eq(ret + 1)
        with m.If(ret == A):
            m.d.comb += [Assert(none_between(last_j, A * n)), Assert(~lnzd.issue),
                         Assert(~lnzd.head_valid)]
        # not vacuous: the layer completes, the credits hold the LNZD back, a queue fills
        m.d.comb += [Cover((ret == A) & (last_j == A * n - 1)), Cover(lnzd.stall)]

        # -- delivery
        W = t.bcast_latency - 1                       # issue -> written into the queues
        ghost = delay(m, Cat(lnzd.issue, j_iss), W, name="ghost")
        g_valid, g_j = ghost[0], ghost[1:]
        ghost_line = [Cat(lnzd.issue, j_iss)]
        for s in range(W):                            # the same line, each stage named
            reg = Signal(1 + cw, name=f"line{s}")
            m.d.sync += reg.eq(ghost_line[-1])
            ghost_line.append(reg)
        m.d.comb += Assert(ghost_line[-1] == ghost)
        in_flight = _popcount(Cat(*[r[0] for r in ghost_line[1:]]), W)
        # retires on their way to the lanes (retire register, fan-out)
        ret_line = [lnzd.retire]
        for s in range(1 + Fl):
            reg = Signal(name=f"ret_line{s}")
            m.d.sync += reg.eq(ret_line[-1])
            ret_line.append(reg)
        ret_in_flight = _popcount(Cat(*ret_line[1:]), 1 + Fl)

        def in_flight_of(sig, length, name):
            """How many of the last `length` cycles had `sig` (its pipeline's load)."""
            line = [sig]
            for s in range(length):
                reg = Signal(name=f"{name}{s}")
                m.d.sync += reg.eq(line[-1])
                line.append(reg)
            return _popcount(Cat(*line[1:]), length)

        # slice reads on their way to the lanes (config register, fan-out, memory)
        # and to the LNZD (the flags' path: pf register, slice delay, popcount)
        pf_to_lane = in_flight_of(pf_valid, 1 + Fl + M, "pf_lane")
        pf_to_lnzd = in_flight_of(pf_valid, 1 + 2 + Fl + M + Gl + t.popcount, "pf_lnzd")
        arr = Signal(range(A + 1))                    # slices arrived at the LNZD
        with m.If(lnzd.slice_valid):
            m.d.sync += arr.eq(arr + 1)
        for i, q in enumerate(queues):
            pl = q.w.payload
            m.d.comb += Assert(q.w.valid == g_valid)
            with m.If(g_valid):
                m.d.comb += [Assert(pl.start == g_j), Assert(pl.count == 1),
                             Assert(~pl.empty & pl.single), Assert(pl.value == g_j + 1)]
            last_deq = Signal(signed(cw), init=-1, name=f"last_deq{i}")
            m.d.comb += [Assert(last_deq >= -1), Assert(last_deq <= last_j)]
            with m.If(q.r.valid & q.r.ready):
                m.d.sync += last_deq.eq(q.r.payload.start)
                m.d.comb += Assert(_sx(q.r.payload.start) > last_deq)

            # == invariants (what makes the properties inductive) ====================================
            # the queue's items: its head register, then its FIFO's slots
            f = queue_fifos[i]
            m.d.comb += Cover(f.level == f.depth)
            lay = q.layout
            hv = q.r.valid
            size = 1 + f.depth
            level = Signal(range(size + 1), name=f"q_level{i}")
            m.d.comb += [level.eq(hv + f.level),
                         Assert(hv | (f.level == 0))]     # the FIFO holds items only behind the head
            items = [lay(Value.cast(q.r.payload))] + [lay(s) for s in f.slots]
            for s in range(size):
                with m.If(s < level):
                    m.d.comb += [Assert(items[s].count == 1), Assert(~items[s].empty),
                                 Assert(items[s].single),
                                 Assert(items[s].value == items[s].start + 1),
                                 Assert(_sx(items[s].start) > last_deq),
                                 Assert(_sx(items[s].start) <= last_j)]
                    if s + 1 < size:
                        with m.If(s + 1 < level):
                            m.d.comb += Assert(items[s].start < items[s + 1].start)
            # credits: issued - dequeued = in the queue + on the way
            m.d.comb += Assert((issued - deqs[i])[:dw] == (level + in_flight)[:dw])
            for r in ghost_line[1:]:                  # on the way: after everything queued
                with m.If(r[0]):
                    m.d.comb += Assert(_sx(r[1:]) > last_deq)
                    for s in range(size):
                        with m.If(s < level):
                            m.d.comb += Assert(r[1:] > items[s].start)
            # lane i: its queue holds words k = retired-at-the-lane .. in order
            lf = lane_fifos[i]
            rl = Signal(range(A + 1), name=f"lane_ret{i}")
            wv = Signal(range(A + 1), name=f"lane_words{i}")
            with m.If(lanes[i].retire):
                m.d.sync += rl.eq(rl + 1)
            with m.If(lanes[i].word_valid):
                m.d.sync += wv.eq(wv + 1)
            m.d.comb += [Assert(lf.level == wv - rl), Assert(wv + pf_to_lane == pf_k),
                         Assert(wv >= arr),
                         Assert(rl + ret_in_flight == ret)]
            for s in range(lf.depth):
                with m.If(s < lf.level):
                    m.d.comb += Assert(lf.slots[s] == word(rl + s, i))

        # the LNZD: backlog slices in order after the head, head = next to retire
        head_valid = local(lnzd_m, "head_valid")
        head = local(lnzd_m, "head")
        cw_ = lnzd.cw

        def fields(e):
            """(mask, count, k, none, one, two) of a slice as the LNZD keeps it."""
            return (e[:n], e[n:n + cw_], e[n + cw_:n + cw_ + kw], e[n + cw_ + kw],
                    e[n + cw_ + kw + 1], e[n + cw_ + kw + 2])

        def decoded(c, none, one, two):
            return [Assert(none == (c == 0)), Assert(one == (c == 1)), Assert(two == (c == 2))]

        hmask, hcount, hk, hnone, hone, htwo = fields(head)
        m.d.comb += [Assert(arr == ret + head_valid + backlog.level), Assert(arr <= pf_k),
                     Assert(pf_k <= A), Assert(outstanding == pf_k - ret + pf_retire_q),
                     Assert(more == (pf_k < A)), Assert(pf_room == (outstanding < F)),
                     Assert(arr + pf_to_lnzd == pf_k)]
        entry = lnzd_m.submodules.backlog
        for s in range(entry.depth):
            with m.If(s < entry.level):
                sm, sc, sk, snone, sone, stwo = fields(entry.slots[s])
                m.d.comb += [Assert(sk == ret + head_valid + s), Assert(sm == slice_mask(sk)),
                             Assert(sc == _popcount(sm, n)), *decoded(sc, snone, sone, stwo)]
        issued_bits = Signal(n)
        m.d.comb += issued_bits.eq(slice_mask(hk) & ~hmask)
        with m.If(head_valid):
            m.d.comb += [Assert(hk == ret), Assert((hmask & ~slice_mask(hk)) == 0),
                         Assert(hcount == _popcount(hmask, n)), *decoded(hcount, hnone, hone, htwo)]
            with m.If(hmask != 0):
                m.d.comb += Assert(issued_bits < (hmask & -hmask))
            # the last issue is the head's highest issued bit, or before the slice
            hi_bit = Const(0, pw)
            for b in range(n):
                hi_bit = Mux(issued_bits[b], b, hi_bit)
            with m.If(issued_bits != 0):
                m.d.comb += Assert(last_j == hk * n + hi_bit)
            with m.Else():
                m.d.comb += [Assert(last_j < hk * n), Assert(none_between(last_j, hk * n))]
        with m.Else():
            m.d.comb += [Assert(last_j < ret * n), Assert(none_between(last_j, ret * n))]
        return m
