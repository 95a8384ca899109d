"""Accumulators: the rows of acc_width-bit sums under the array.

A MMUL row issued at cycle q (its unified-buffer read) comes out of the
Deskew as one whole row of C partial sums at T = q + D - 1 (D =
params.pipeline_depth). Its control (valid, accumulator row, add/overwrite)
travels beside it through a delay line; the row is read at T - 2 (the block
RAM and its output register, MEM_LATENCY), added at T and written at
T + 1 = q + D:

    acc[row] = (acc[row] if accumulate else 0) + psum      (wrapping)

so K larger than R is tiled by MMULs into the same rows, the first one
overwriting, the rest adding. A row written at T + 1 is in the memory for
reads from T + 2 on; the rows summed at T + 1, T + 2 and T + 3 read it too
early, so their old value is forwarded from the sum register and two copies
of it (the address comparisons are made a cycle ahead, on the delay line):
back-to-back MMULs into the same row (n = 1) see each other's sums.

A second read port serves the activation unit (a block-RAM copy per read
port, both written together), C lanes of acc_width bits per row.

Neither port uses a read of a row in the cycle it is written (the sum port
forwards the rows written since its read, the one written in the read's
cycle included; an ACT reads a row from the cycle after its last MMUL
write on, sequencer.py `drain`, and no MMUL writes the rows of a running
ACT; the host reads while the unit is not active), so the memory has no
read-during-write check (LaneMemory `no_rw_check`: no collision logic after
the block RAMs; the tests simulate such a read as garbage).
"""

from amaranth import Module, Signal, Mux, signed
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .lane_memory import LaneMemory
from .layouts import acc_ctl
from .params import MEM_LATENCY
from ..eie.trees import FANOUT_ATTR

__all__ = ["Accumulators"]

#: rows written before the one being summed whose write the memory read missed
FORWARD = MEM_LATENCY + 1

#: bits of a sum per copy of the old-value selects
SEL_GROUP = 8


class Accumulators(wiring.Component):
    """Ports (q: the cycle a MMUL row issues, its unified-buffer read; D =
    params.pipeline_depth):
        ctl_in     In at q: the row's control (valid, accumulator row,
                   accumulate or overwrite).
        psum_in    In at q + D - 1: the row of C partial sums out of the Deskew.
                   The sum is written to the accumulator row at the end of
                   q + D; later rows into the same row see it (forwarding).
        busy       Out (combinational from the delay line): a row is in flight
                   to the accumulators.
        act_raddr  In: the activation unit reads an accumulator row ...
        act_rdata  Out: ... MEM_LATENCY = 2 cycles later (second read port).
                   The port reads act_raddr every cycle (no enable): the row
                   read stays in act_rdata as long as its address is held.

    The host reaches the rows through `memory` (a LaneMemory, read port 0).
    """

    def __init__(self, params):
        self.params = params
        p = params
        self.memory = LaneMemory(lanes=p.cols, lane_shape=signed(p.acc_width), depth=p.acc_depth,
                                 chunk_lanes=1, bus_lane_bits=8 * p.acc_bytes, n_read=2,
                                 no_rw_check=True)
        row = data.ArrayLayout(signed(p.acc_width), p.cols)
        super().__init__({
            "ctl_in": In(acc_ctl(p)),          # at the cycle the row issues (q)
            "psum_in": In(data.ArrayLayout(signed(p.psum_width(p.rows - 1)), p.cols)),  # at q + D - 1
            "act_raddr": In(self.memory.abits),
            "act_rdata": Out(row),             # MEM_LATENCY cycles after act_raddr
            "busy": Out(1),                    # a row is in flight to the accumulators
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        C, A = p.cols, p.acc_width
        D = p.pipeline_depth
        m.submodules.memory = mem = self.memory
        stages = [self.ctl_in]
        for k in range(D + FORWARD - 1):
            s = Signal(acc_ctl(p), name=f"ctl_d{k + 1}")
            m.d.sync += s.eq(stages[-1])
            stages.append(s)
        rd, cur, wr = stages[D - 1 - MEM_LATENCY], stages[D - 1], stages[D]
        m.d.comb += self.busy.eq(0)
        for s in stages[1:D + 1]:
            with m.If(s.valid):
                m.d.comb += self.busy.eq(1)

        # sums: s[0] is the register written at q + D, s[1], s[2] its copies
        sums = [Signal(data.ArrayLayout(signed(A), C), name=f"sum{k + 1}", reset_less=True)
                for k in range(FORWARD)]
        for k in range(1, FORWARD):
            m.d.sync += sums[k].eq(sums[k - 1])
        # what the row summed next cycle (stage D - 2 now) adds its partial
        # sums to, as one-hot selects made a cycle ahead: nothing (overwrite),
        # the memory's row, or the sum of a row then in stages D .. D +
        # FORWARD - 1 written since the read (the newest first). The selects
        # are copied per column and per SEL_GROUP bits of a sum, kept apart by
        # synthesis, so that each drives SEL_GROUP multiplexer bits
        # The selects are computed two cycles ahead (the delay line does not
        # stall: what will be in stages D - 2 .. D + FORWARD - 2 next cycle is
        # in stages D - 3 .. now) into one register, `sel_mid`, which the
        # copies take a cycle later: the comparisons' LUTs driving all C x
        # groups copies over the array's width was the 12 x 12 unit's critical
        # path (5.2 ns of routing)
        nxt = stages[D - 3]
        hits = Signal(FORWARD)
        for k in range(FORWARD):
            ahead = stages[D - 2 + k]
            m.d.comb += hits[k].eq(ahead.valid & (ahead.addr == nxt.addr))
        sel_next = Signal(FORWARD + 1)       # bit k < FORWARD: sums[k]; bit FORWARD: memory
        for k in range(FORWARD):
            m.d.comb += sel_next[k].eq(nxt.accumulate & hits[k] & ~hits[:k].any())
        m.d.comb += sel_next[FORWARD].eq(nxt.accumulate & ~hits.any())
        sel_mid = Signal(FORWARD + 1, reset_less=True)
        m.d.sync += sel_mid.eq(sel_next)
        groups = [(lo, min(lo + SEL_GROUP, A)) for lo in range(0, A, SEL_GROUP)]

        m.d.comb += mem.raddr0.eq(rd.addr)
        for c in range(C):
            old = Signal(signed(A), name=f"old{c}")
            for g, (lo, hi) in enumerate(groups):
                # no reset (nor abort, top.py's ResetInserter): a select is
                # used only for the row in stage D - 1, whose sum is written
                # (and forwarded) only when that row is valid, and an abort
                # clears the valid bits; so the abort stays out of the selects' logic
                sel = Signal(FORWARD + 1, name=f"sel{c}_{g}", attrs={FANOUT_ATTR: 1}, reset_less=True)
                m.d.sync += sel.eq(sel_mid)
                srcs = [sums[k][c] for k in range(FORWARD)] + [mem.rdata0[c]]
                terms = [Mux(sel[k], v[lo:hi], 0) for k, v in enumerate(srcs)]
                acc = terms[0]
                for t in terms[1:]:
                    acc = acc | t
                m.d.comb += old[lo:hi].eq(acc)
            m.d.sync += sums[0][c].eq(self.psum_in[c] + old)
        m.d.comb += [mem.waddr.eq(wr.addr), mem.we.eq(wr.valid), mem.wlanes.eq(-1),
                     mem.wdata.eq(sums[0])]
        # the activation unit's port reads every cycle: it holds the address of
        # the row it reads between reads (activation.py), and an enable here
        # would be one net to all C x acc_width flip-flops after the block RAMs
        m.d.comb += [mem.raddr1.eq(self.act_raddr), mem.ren1.eq(1),
                     self.act_rdata.eq(mem.rdata1)]
        return m
