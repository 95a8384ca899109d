"""The build report: resources used against available, Fmax against target,
and the throughput that follows.

Reads nextpnr's `--report` JSON (keys `utilization`, `fmax`,
`critical_paths`), names the resources the way the board file does
(logic cells / LUT4s, DSPs, block RAMs, SPRAMs, PLLs), checks timing at
the clock the top-level uses and summarises the critical path by the source
lines it runs through (Amaranth's `src` attributes survive into nextpnr's
report), so a slow path can be traced to the generator code that makes it.
"""

import dataclasses
import json
import os
from pathlib import Path

from ..sw.errors import EiegenError

__all__ = ["BuildReport", "ReportError", "TimingError", "parse_report", "format_report",
           "check_timing", "critical_path_summary", "Throughput"]

_REPO = str(Path(__file__).resolve().parent.parent)

_LABELS = {
    "logic": "logic ({unit})",
    "dsp": "DSP",
    "bram": "block RAM",
    "spram": "SPRAM",
    "pll": "PLL",
}


class ReportError(EiegenError):
    """A missing or malformed nextpnr report."""


class TimingError(EiegenError):
    """The design does not meet timing at the clock the top-level uses."""


@dataclasses.dataclass
class ClockTiming:
    name: str
    achieved_mhz: float
    target_mhz: float

    @property
    def met(self):
        # nextpnr reports frequencies as float32: allow for its rounding
        return self.achieved_mhz >= self.target_mhz * (1 - 1e-6)

    @property
    def slack_ns(self):
        return 1e3 / self.target_mhz - 1e3 / self.achieved_mhz


@dataclasses.dataclass
class BuildReport:
    family: str
    used: dict                      # resource -> (used, available)
    clocks: list                    # ClockTiming
    critical_path: dict = None      # critical_path_summary() of the slowest clock
    logic_unit: str = "LC"

    @property
    def timing_met(self):
        return bool(self.clocks) and all(c.met for c in self.clocks)

    @property
    def fmax_mhz(self):
        return min(c.achieved_mhz for c in self.clocks) if self.clocks else None

    @property
    def target_mhz(self):
        return max(c.target_mhz for c in self.clocks) if self.clocks else None

    def to_dict(self):
        return {
            "family": self.family,
            "used": {k: {"used": u, "available": a} for k, (u, a) in self.used.items()},
            "clocks": [{"name": c.name, "fmax_mhz": round(c.achieved_mhz, 3),
                        "target_mhz": round(c.target_mhz, 3), "met": c.met} for c in self.clocks],
            "timing_met": self.timing_met,
            "critical_path": self.critical_path,
        }


def parse_report(path_or_dict, board):
    """A BuildReport from nextpnr's report JSON for `board` (boards.board.Board):
    the availability comes from the board file, and must agree with nextpnr's."""
    if isinstance(path_or_dict, dict):
        data, where = path_or_dict, "report"
    else:
        where = str(path_or_dict)
        try:
            data = json.loads(Path(path_or_dict).read_text())
        except OSError as exc:
            raise ReportError(f"{where}: cannot read nextpnr's report ({exc})") from None
        except json.JSONDecodeError as exc:
            raise ReportError(f"{where}: not a JSON report ({exc})") from None
    if not isinstance(data, dict) or "utilization" not in data or "fmax" not in data:
        raise ReportError(f"{where}: not a nextpnr report (no 'utilization' and 'fmax')")
    util = data["utilization"]
    keys = board.family_info["report_keys"]
    res = board.resources
    used = {}
    for what, key in keys.items():
        available = getattr(res, what)
        if key not in util:
            if available:
                raise ReportError(f"{where}: no '{key}' in the utilisation, which the board "
                                  f"'{board.name}' has {available} of")
            continue
        entry = util[key]
        if entry.get("available") != available:
            raise ReportError(f"{where}: nextpnr counts {entry.get('available')} {key}, the board file "
                              f"'{board.name}' says {available}: fix boards/{board.name}.py")
        used[what] = (int(entry["used"]), available)
    clocks = [ClockTiming(name, float(v["achieved"]), float(v["constraint"]))
              for name, v in sorted(data["fmax"].items())]
    crit = None
    paths = data.get("critical_paths") or []
    if clocks and paths:
        worst = min(clocks, key=lambda c: c.achieved_mhz)
        for p in paths:
            if worst.name in (p.get("from", ""), p.get("to", "")) or len(paths) == 1:
                crit = critical_path_summary(p)
                break
        if crit is None:
            crit = critical_path_summary(paths[0])
    return BuildReport(board.family, used, clocks, crit, res.logic_unit)


def _short_source(src):
    src = src.strip()
    if src.startswith(_REPO + os.sep):
        rel = src[len(_REPO) + 1:]
        # (a virtual environment inside the checkout holds libraries, not this repository)
        return None if "site-packages" in rel.split(os.sep) else rel
    return None


def critical_path_summary(path):
    """{'from', 'to', 'delay_ns', 'logic_ns', 'routing_ns', 'cells', 'sources'}: the
    path's end points and the repository source lines it runs through, in order."""
    steps = path.get("path") or []
    logic = sum(s.get("delay", 0.0) for s in steps if s.get("type") in ("logic", "clk-to-q", "setup"))
    routing = sum(s.get("delay", 0.0) for s in steps if s.get("type") == "routing")
    sources = []
    for s in steps:
        for src in s.get("sources") or []:
            for part in str(src).split("|"):
                short = _short_source(part)
                if short and short not in sources:
                    sources.append(short)
    cells = []
    for s in steps:
        for end in ("from", "to"):
            c = (s.get(end) or {}).get("cell")
            if c and (not cells or cells[-1] != c):
                cells.append(c)
    first = (steps[0].get("from") or {}).get("cell") if steps else None
    last = (steps[-1].get("to") or {}).get("cell") if steps else None
    return {"from": first, "to": last, "delay_ns": round(logic + routing, 3),
            "logic_ns": round(logic, 3), "routing_ns": round(routing, 3),
            "cells": len(cells), "sources": sources}


@dataclasses.dataclass
class Throughput:
    """What a build computes per second. `multipliers` work every cycle at
    `clock_mhz` (the build's clock when timing is met, else the achieved
    Fmax: `clock_met`). With a model: `cycles` per inference (cycle model,
    `case` says for which input), `dense_ops` (2 x the dense network's
    weights) and `nonzero_ops` (2 x its non-zeros) per inference."""
    multipliers: int
    clock_mhz: float
    clock_met: bool = True
    model: str = None
    cycles: float = None
    case: str = None
    dense_ops: int = None
    nonzero_ops: int = None

    @property
    def peak_gops(self):
        return 2 * self.multipliers * self.clock_mhz / 1e3

    @property
    def us_per_inference(self):
        return self.cycles / self.clock_mhz if self.cycles is not None else None

    @property
    def inferences_per_s(self):
        return 1e6 / self.us_per_inference if self.cycles else None

    @property
    def effective_gops(self):
        return self.dense_ops * self.inferences_per_s / 1e9 if self.cycles else None

    @property
    def nonzero_gops(self):
        return self.nonzero_ops * self.inferences_per_s / 1e9 if self.cycles else None

    def to_dict(self):
        d = {"multipliers": self.multipliers, "clock_mhz": round(self.clock_mhz, 3),
             "clock_met": self.clock_met, "peak_gops": round(self.peak_gops, 4)}
        if self.cycles is not None:
            d.update(model=self.model, cycles_per_inference=self.cycles, case=self.case,
                     us_per_inference=round(self.us_per_inference, 3),
                     inferences_per_s=round(self.inferences_per_s, 1),
                     effective_gops=round(self.effective_gops, 4),
                     nonzero_gops=round(self.nonzero_gops, 4))
        return d

    def lines(self):
        at = "" if self.clock_met else " (Fmax: timing not met)"
        out = [f"  throughput: peak {self.peak_gops:.3f} GOP/s (2 x {self.multipliers} "
               f"multiplier(s) x {self.clock_mhz:.2f} MHz{at})"]
        if self.cycles is not None:
            out.append(f"    on {self.model}: {self.cycles:.0f} cycles per inference (cycle model, "
                       f"{self.case}) = {self.us_per_inference:.1f} us, "
                       f"{self.inferences_per_s:,.0f} inferences/s, "
                       f"{self.effective_gops:.3f} GOP/s effective (dense network; "
                       f"{self.nonzero_gops:.3f} on its non-zeros)")
        return out


def check_timing(report, where="the design"):
    """Raise TimingError naming the achieved Fmax and the target when any clock fails."""
    if not report.clocks:
        raise TimingError(f"{where}: nextpnr reported no clock, so timing was not checked "
                          f"(is the clock constrained?)")
    for c in report.clocks:
        if not c.met:
            raise TimingError(
                f"{where}: timing not met on clock '{c.name}': Fmax {c.achieved_mhz:.2f} MHz "
                f"< target {c.target_mhz:.2f} MHz (short by {-c.slack_ns:.2f} ns per cycle); "
                f"lower the clock (--freq) or shorten the critical path")


def _pct(u, a):
    return f"{100.0 * u / a:5.1f} %" if a else "   -  "


def format_report(report, title=None, throughput=None):
    lines = []
    if title:
        lines.append(title)
    lines.append(f"  {'resource':18s} {'used':>7s} / {'available':<9s}")
    for what, (u, a) in report.used.items():
        label = _LABELS[what].format(unit=report.logic_unit)
        lines.append(f"  {label:18s} {u:7d} / {a:<9d} {_pct(u, a)}")
    for c in report.clocks:
        verdict = "met" if c.met else "NOT MET"
        lines.append(f"  clock {c.name}: Fmax {c.achieved_mhz:.2f} MHz, target {c.target_mhz:.2f} MHz "
                     f"-> timing {verdict} (slack {c.slack_ns:+.2f} ns)")
    cp = report.critical_path
    if cp:
        lines.append(f"  critical path: {cp['delay_ns']:.2f} ns ({cp['logic_ns']:.2f} logic, "
                     f"{cp['routing_ns']:.2f} routing), {cp['cells']} cells")
        if cp["sources"]:
            lines.append("    through " + ", ".join(cp["sources"][:12]) +
                         (" ..." if len(cp["sources"]) > 12 else ""))
    if throughput is not None:
        lines += throughput.lines()
    return "\n".join(lines)
