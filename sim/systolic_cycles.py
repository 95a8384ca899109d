"""Cycle model of the systolic unit, and the analytic formulas it is compared with.

`simulate(program, params)` follows the sequencer's issue rules
(hw/systolic/sequencer.py, docs/systolic.md "Issue rules") one instruction
at a time instead of one cycle at a time, and returns the performance
counters the RTL reports: the tests require them to be equal.

With start at cycle 0, instruction k becomes visible at cycle x_k (x_0 = 1,
x_{k+1} = d_k + 1) and issues at d_k >= x_k, the first cycle its rule
holds. With D = R + C (a row issued at q is in the accumulators at q + D):

    RW    d >= l_end (loader free), d >= s_end if it loads the bank the
          streaming MMUL uses;          then l_end = d + R
    MMUL  d >= s_end (streamer free), d >= l_end if its tile is the one
          loading, d > a_end if it shares rows with the running ACT;
                                        then s_end = d + n
    ACT   d > a_end;   reads from e = max(d + 1, s_end + D + 1),
                                        a_end = e + n + 2 (last write)
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

__all__ = ["CycleReport", "simulate", "scalesim_ws_cycles", "ideal_cycles", "utilisation"]

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


def simulate(program, params, *, trace=False):
    p = params
    R, D = p.rows, p.pipeline_depth
    instrs = [i if isinstance(i, Instr) else decode(i) for i in program]
    s_end = l_end = a_end = NEG
    s_bank = l_bank = 0
    load_bank = use_bank = 0
    avail = 0
    act_ranges = None          # (acc_lo, acc_hi, ub_lo, ub_hi) of the last ACT
    x = 1
    pc = 0
    stall = wstall = mac = count = 0
    issue = []

    def all_idle():
        return max(s_end + D + 1, l_end + 1, a_end + 1)

    def overlap(lo, n, lo2, hi2):
        return lo < hi2 and lo2 < lo + n

    while True:
        if pc >= len(instrs):
            raise ValueError(f"program runs past its end at instruction {pc} without HALT")
        ins = instrs[pc]
        op = ins.op
        fault = ""
        if op in ("MMUL", "ACT", "RHM", "WHM") and ins.n == 0:
            fault = "zero_count"
        elif op == "MMUL" and avail == 0:
            fault = "no_tile"
        elif op == "RW" and avail == 2:
            fault = "banks_full"
        elif op == "SETQ" and (ins.mult == 0 or ins.mult >= (1 << p.mult_width)
                               or ins.shift > p.max_shift):
            fault = "bad_quant"
        if fault or op == "HALT":
            d = max(x, all_idle())
            stall += max(0, d - max(x, s_end + 1))
            count += 1
            issue.append(d)
            return CycleReport(d, mac, stall, wstall, count, fault, issue if trace else [])
        s_end_before = s_end
        if op in ("NOP", "SETQ"):
            d = x
        elif op == "RW":
            d = max(x, l_end)
            if s_bank == load_bank:
                d = max(d, s_end)
            l_end, l_bank = d + R, load_bank
            load_bank ^= 1
            avail += 1
        elif op == "MMUL":
            d = max(x, s_end)
            if l_bank == use_bank:
                d = max(d, l_end)
                # array idle, tile not yet loaded
                wstall += max(0, l_end - max(x, s_end + 1))
            if act_ranges is not None and d <= a_end:
                acc_lo, acc_hi, ub_lo, ub_hi = act_ranges
                if overlap(ins.a, ins.n, ub_lo, ub_hi) or overlap(ins.b, ins.n, acc_lo, acc_hi):
                    d = max(d, a_end + 1)
            s_end, s_bank = d + ins.n, use_bank
            use_bank ^= 1
            avail -= 1
            mac += ins.n
        elif op == "ACT":
            d = max(x, a_end + 1)
            e = max(d + 1, s_end + D + 1)
            a_end = e + ins.n + 2
            act_ranges = (ins.a, ins.a + ins.n, ins.b, ins.b + ins.n)
        elif op in ("RHM", "WHM"):
            d = max(x, all_idle())
        else:
            raise AssertionError(op)
        stall += max(0, d - max(x, s_end_before + 1))
        count += 1
        issue.append(d)
        x = d + 1
        pc += 1


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
