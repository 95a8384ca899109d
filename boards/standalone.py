"""A unit alone on a board's part, for quality-of-results measurement.

The board top (boards/top.py) puts the host link beside the unit; this top
puts only the unit there, with every input port driven from a shift register
fed by one pin (a flip-flop per input bit the unit reads) and every output
port folded (XOR) into one pin, so synthesis keeps the whole unit and nextpnr reports what the unit itself costs and how
fast it runs (`eiegen build --alone`, docs/boards.md).
"""

import dataclasses
import json
import os
from pathlib import Path

from amaranth import Module, Signal, Cat, ClockDomain, Elaboratable
from amaranth.lib import io, wiring

from ..sw import toolchain
from ..sw.atomic import atomic_dir, check_output
from .build import (BUILD_FORMAT, RamPlacer, board_platform, _require_tools, _run_script, BuildResult,
                    tool_options, default_build_dir)
from .clocking import BoardClock, unit_domain
from .floorplan import prepare as floorplan_prepare
from .report import parse_report, format_report

__all__ = ["StandaloneTop", "build_standalone"]


class StandaloneTop(Elaboratable):
    def __init__(self, board, unit, *, sync_hz=None):
        self.board, self.unit = board, unit
        self.clock = BoardClock(board.family, board.clock, board.clock_hz, sync_hz or board.design_hz("eie"))
        self.sync_hz = self.clock.f_out

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = self.clock
        # the unit on a reset of its own, as on the board top (boards/clocking.py)
        unit = self.unit
        m.submodules.unit = unit_domain(m, unit)
        ins, outs = [], []
        for path, member, value in unit.signature.flatten(unit):
            (ins if member.flow == wiring.In else outs).append(value)
        uart = platform.request(self.board.uart, 0, dir={s.name: "-" for s in
                                                          platform.lookup(self.board.uart, 0).ios})
        m.submodules.din = din = io.Buffer("i", uart.rx)
        m.submodules.dout = dout = io.Buffer("o", uart.tx)
        # The chain's tail holds the widest input's top bits: a bit the unit
        # never reads (the bus's 64-bit write data above the unit's widest
        # word) then ends a run of flip-flops nobody reads, which synthesis
        # removes, so the harness costs a flip-flop per input bit used.
        ins.sort(key=len)
        width = sum(len(v) for v in ins)
        shift = Signal(width)
        m.d.sync += shift.eq(Cat(din.i, shift[:-1]))
        pos = 0
        for v in ins:
            m.d.comb += v.eq(shift[pos:pos + len(v)])
            pos += len(v)
        fold = Signal()
        acc = 0
        for v in outs:
            for i in range(len(v)):
                acc = acc ^ v[i]
        m.d.sync += fold.eq(acc)
        m.d.comb += dout.o.eq(fold)
        return m


def build_standalone(board, params, *, out_dir=None, sync_hz=None, seed=0, force=False, progress=print):
    """Build the EIE array of `params` alone for `board` into `out_dir`
    (default build/boards/<board>-eie-alone-<N>pe; an existing folder must be
    an earlier build unless `force`); returns BuildResult (the bitstream is
    not kept: this is a measurement)."""
    from ..hw.eie.array import EIEArray
    env = toolchain.configure(dict(os.environ))
    _require_tools(board, env)
    top = StandaloneTop(board, EIEArray(params), sync_hz=sync_hz)
    placer = RamPlacer(board, seed=seed)
    platform = board_platform(board, placer)
    kw = tool_options(board, seed)
    out_dir = Path(out_dir) if out_dir is not None else default_build_dir(board, "eie-alone", params)
    check_output(out_dir, "board-build", force=force)
    if progress:
        progress(f"eiegen build --alone: {board.title}, EIE array of {params.n_pes} PE(s) without "
                 f"the host link, clock {top.sync_hz / 1e6:.3f} MHz")
    plan = platform.build(top, name="top", do_build=False, **kw)
    with atomic_dir(out_dir, kind="board-build", force=force) as tmp:
        plan.extract(str(tmp))
        run_env, floorplan = floorplan_prepare(tmp, board, params, env, "top")
        seconds = _run_script(tmp, "top", board, run_env, progress)
        report = parse_report(tmp / "report.json", board)
        text = format_report(report, title=f"{board.title}: EIE array alone, {params.n_pes} PE(s)")
        info = {"format": BUILD_FORMAT, "version": 1, "board": board.name, "design": "eie-alone", "params": dataclasses.asdict(params),
                "sync_hz": top.sync_hz, "floorplan": floorplan, "report": report.to_dict(),
                "tool_seconds": round(seconds, 1)}
        (tmp / "build.json").write_text(json.dumps(info, indent=1) + "\n")
        (tmp / "report.txt").write_text(text + "\n")
        for junk in ("top.json", "top.bit", "top.bin", "top.config", "top.asc"):
            (tmp / junk).unlink(missing_ok=True)
    if progress:
        progress(text)
    return BuildResult(out_dir, None, report, text, info)
