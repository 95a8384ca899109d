"""Cycle model of the systolic unit, and the analytic formulas it is compared with.

`simulate(program, params)` follows the sequencer's issue rules
(hw/systolic/sequencer.py, docs/systolic.md "Issue rules") one instruction
at a time instead of one cycle at a time, and returns the performance
counters the RTL reports: the tests require them to be equal.

With start at cycle 0, instruction k reaches the issue stage at cycle x_k
(x_0 = FETCH_LATENCY = 4, x_{k+1} = d_k + 1) and issues at d_k >= x_k, the
first cycle its rule holds. With D = params.pipeline_depth = R + C + 4 (a
row issued at q is in the accumulators at q + D), k =
params.act_row_cycles and P = params.act_latency (hw/systolic/params.py):

    RW    d >= l_end (loader free), d >= s_end if it loads the bank the
          streaming MMUL uses;          then l_end = d + R
    MMUL  d >= s_end (streamer free), d >= l_end if its tile is the one
          loading, d > a_end if it shares rows with the running ACT,
          d > x if the ACT runs when it arrives (x <= a_end: the hazard
          comparison is registered);    then s_end = d + n
    ACT   d > a_end;   reads from e = max(d + 1, s_end + D + 1), one row
          every k cycles,               a_end = e + (n - 1) k + P (last write)
    RHM/WHM/HALT  d >= max(s_end + D + 1, l_end + 1, a_end + 1)

(l_end: last weight read, s_end: last row issued, a_end: last ACT write.)
cycles = d_HALT, mac_active = sum of MMUL n; stall counts the cycles
x_k <= t < d_k in which no row issues (t > s_end), weight_stall those of a
MMUL waiting for its tile (t < l_end).
Host waits at RHM/WHM take no modelled time: every engine is idle then.

`scalesim_ws_cycles` is SCALE-Sim's analytic weight-stationary runtime
(Samajdar et al., ISPASS 2020): every fold fills the weights, streams and
drains without overlap, (2R + C + M - 2) cycles per fold.
"""

import dataclasses

from ..hw.systolic.isa import Instr, decode
from ..hw.systolic.params import FETCH_LATENCY

__all__ = ["CycleReport", "Engine", "simulate", "scalesim_ws_cycles", "ideal_cycles", "utilisation"]

NEG = -(1 << 40)


@dataclasses.dataclass
class CycleReport:
    cycles: int
    mac_active: int
    stall: int
    weight_stall: int
    instructions: int
    error: str = ""
    issue: list = dataclasses.field(default_factory=list, repr=False)   # d_k per instruction

    def counters(self):
        return {"cycles": self.cycles, "mac_active": self.mac_active, "stall": self.stall,
                "weight_stall": self.weight_stall, "instructions": self.instructions}


class Engine:
    """The issue rules as a state machine over instructions: `issue(ins)`
    returns the cycle the instruction issues at (and `done` after HALT or a
    fault). Times only enter as differences, so `shift(dt)` moves the whole
    state dt cycles later without changing what follows (used by
    eiegen.sw.systolic.compare to skip repeating stretches of long programs)."""

    def __init__(self, params):
        self.p = params
        self.R, self.D = params.rows, params.pipeline_depth
        self.s_end = self.l_end = self.a_end = NEG
        self.s_bank = self.l_bank = 0
        self.load_bank = self.use_bank = 0
        self.avail = 0
        self.act_ranges = None          # (acc_lo, acc_hi, ub_lo, ub_hi) of the last ACT
        self.act_k, self.act_p = params.act_row_cycles, params.act_latency
        self.x = FETCH_LATENCY
        self.stall = self.wstall = self.mac = self.count = 0
        self.done = False
        self.cycles = 0
        self.error = ""

    def all_idle(self):
        return max(self.s_end + self.D + 1, self.l_end + 1, self.a_end + 1)

    def signature(self):
        """The state relative to the next instruction's earliest cycle, with
        the accumulator range of the last ACT (what later issue decisions
        depend on, unified-buffer overlaps aside)."""
        x = self.x
        acc = self.act_ranges[:2] if self.act_ranges else None
        return (self.s_end - x, self.l_end - x, self.a_end - x, self.s_bank, self.l_bank,
                self.load_bank, self.use_bank, self.avail, acc)

    def counters(self):
        return (self.x, self.stall, self.wstall, self.mac, self.count)

    def shift(self, dt, dstall=0, dwstall=0, dmac=0, dcount=0):
        self.x += dt
        self.s_end += dt
        self.l_end += dt
        self.a_end += dt
        self.stall += dstall
        self.wstall += dwstall
        self.mac += dmac
        self.count += dcount

    def issue(self, ins):
        p = self.p
        R, D = self.R, self.D
        x = self.x
        op = ins.op
        fault = ""
        if op in ("MMUL", "ACT", "RHM", "WHM") and ins.n == 0:
            fault = "zero_count"
        elif op == "MMUL" and self.avail == 0:
            fault = "no_tile"
        elif op == "RW" and self.avail == 2:
            fault = "banks_full"
        elif op == "SETQ" and (ins.mult == 0 or ins.mult >= (1 << p.mult_width)
                               or ins.shift > p.max_shift):
            fault = "bad_quant"
        if fault or op == "HALT":
            d = max(x, self.all_idle())
            self.stall += max(0, d - max(x, self.s_end + 1))
            self.count += 1
            self.done, self.cycles, self.error = True, d, fault
            return d
        s_end_before = self.s_end
        if op in ("NOP", "SETQ"):
            d = x
        elif op == "RW":
            d = max(x, self.l_end)
            if self.s_bank == self.load_bank:
                d = max(d, self.s_end)
            self.l_end, self.l_bank = d + R, self.load_bank
            self.load_bank ^= 1
            self.avail += 1
        elif op == "MMUL":
            d = max(x, self.s_end)
            if self.l_bank == self.use_bank:
                d = max(d, self.l_end)
                # array idle, tile not yet loaded
                self.wstall += max(0, self.l_end - max(x, self.s_end + 1))
            if x <= self.a_end:
                d = max(d, x + 1)
            if self.act_ranges is not None and d <= self.a_end:
                acc_lo, acc_hi, ub_lo, ub_hi = self.act_ranges
                if (_overlap(ins.a, ins.n, ub_lo, ub_hi)
                        or _overlap(ins.b, ins.n, acc_lo, acc_hi)):
                    d = max(d, self.a_end + 1)
            self.s_end, self.s_bank = d + ins.n, self.use_bank
            self.use_bank ^= 1
            self.avail -= 1
            self.mac += ins.n
        elif op == "ACT":
            d = max(x, self.a_end + 1)
            e = max(d + 1, self.s_end + D + 1)
            self.a_end = e + (ins.n - 1) * self.act_k + self.act_p
            self.act_ranges = (ins.a, ins.a + ins.n, ins.b, ins.b + ins.n)
        elif op in ("RHM", "WHM"):
            d = max(x, self.all_idle())
        else:
            raise AssertionError(op)
        self.stall += max(0, d - max(x, s_end_before + 1))
        self.count += 1
        self.x = d + 1
        return d

    def report(self, issue=()):
        return CycleReport(self.cycles, self.mac, self.stall, self.wstall, self.count,
                           self.error, list(issue))


def _overlap(lo, n, lo2, hi2):
    return lo < hi2 and lo2 < lo + n


def simulate(program, params, *, trace=False):
    eng = Engine(params)
    issue = []
    pc = 0
    for pc, ins in enumerate(program, 1):
        if not isinstance(ins, Instr):
            ins = decode(ins)
        d = eng.issue(ins)
        if trace:
            issue.append(d)
        if eng.done:
            return eng.report(issue)
    raise ValueError(f"program runs past its end at instruction {pc} without HALT")


def scalesim_ws_cycles(m, k, n, rows, cols):
    """SCALE-Sim's analytic weight-stationary runtime of (m x k) @ (k x n) on
    rows x cols: ceil(k/rows) * ceil(n/cols) folds of 2*rows + cols + m - 2."""
    folds = -(-k // rows) * -(-n // cols)
    return folds * (2 * rows + cols + m - 2)


def ideal_cycles(m, k, n, rows, cols):
    """One row per cycle and fold, nothing else: ceil(k/R) * ceil(n/C) * m."""
    return -(-k // rows) * -(-n // cols) * m


def utilisation(m, k, n, rows, cols, cycles):
    """Useful MACs / (R * C * cycles)."""
    return (m * k * n) / (rows * cols * cycles) if cycles else 0.0
