"""Run programs on the generated Verilog of the systolic unit (cocotb).

    build(params, simulator)     Verilog + simulator model, once per configuration
                                 (cached under build/sim/, safe under pytest-xdist)
    run_jobs(built, jobs)        one simulator run for many jobs (Job: phases of
                                 bus writes, start/resume, wait, bus reads)
    run_compiled(compiled, xs)   the compiled program on each input matrix
    run_matmul(x, w, params)     compile + run + compare with the golden model

The simulator is driven over the host bus only: the harness writes the
program, weights and inputs (one word per clock), starts the unit and waits
for `done` without running Python per clock cycle, then reads the result
and the performance counters.
"""

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ...hw.systolic.params import SystolicParams, REGS
from ...hw.systolic.top import SystolicUnit
from ...sim import cocotb_harness
from . import busmap
from .compiler import compile_layers, compile_matmul, Layer
from .errors import SystolicError

__all__ = ["TOPLEVEL", "Built", "Job", "Phase", "RunResult", "build", "run_jobs", "run_compiled",
           "run_many", "run_matmul", "run_layers", "golden_output", "COUNTERS"]

TOPLEVEL = "systolic_top"
COUNTERS = ("cycles", "mac_active", "stall", "weight_stall", "host_wait", "instructions")
#: the generator this process imported (cocotb_harness.generator_digest)
_SOURCE_DIGEST = cocotb_harness.generator_digest()


def default_build_root():
    from ..paths import cache_dir        # eiegen's one cache folder
    return cache_dir("sim")


@dataclasses.dataclass
class Built:
    runner: object
    build_dir: Path
    params: SystolicParams
    simulator: str
    build_seconds: float


def generate_verilog(params, path):
    """Write the unit's Verilog (top module `systolic_top`) to `path`."""
    return cocotb_harness.write_verilog(SystolicUnit(params), path, name=TOPLEVEL)


def _config_key(params, simulator, waves=None):
    """The cache key of a model: parameters, simulator, generator digest (and waves)."""
    doc = {"p": params.to_dict(), "sim": simulator, "src": _SOURCE_DIGEST}
    if waves:
        doc["waves"] = waves
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def is_built(params, simulator="verilator", build_root=None):
    """Whether build(params, simulator) would reuse a cached model (no waves)."""
    key = _config_key(params, simulator)
    sim_dir = Path(build_root or default_build_root()) / f"systolic-{params.rows}x{params.cols}-{simulator}-{key}" / "sim"
    return (sim_dir / "eiegen.build-digest").exists() and \
        (sim_dir / (TOPLEVEL if simulator == "verilator" else "sim.vvp")).exists()


def build(params, simulator="verilator", build_root=None, *, waves=None, progress=None):
    """Generate and build the simulator model for `params` (cached by
    parameters, simulator and RTL source digest). `waves`: a model that
    records waveforms (cached apart; default EIEGEN_WAVES); `progress(line)`:
    told whether the model is cached or being built."""
    if waves is None:
        waves = cocotb_harness.waves_requested()
    waves = cocotb_harness.wave_variant(waves, simulator)
    build_root = Path(build_root or default_build_root())
    key = _config_key(params, simulator, waves)
    bdir = (build_root / f"systolic-{params.rows}x{params.cols}-{simulator}"
            f"{'-waves-' + waves if waves else ''}-{key}")
    t0 = time.perf_counter()
    with cocotb_harness.file_lock(build_root / f".lock-systolic-{key}"):
        vpath = bdir / f"{TOPLEVEL}.v"
        generate_verilog(params, vpath)
        runner = cocotb_harness.build([vpath], TOPLEVEL, bdir / "sim", simulator=simulator,
                                      log=bdir / "build.log", waves=waves, progress=progress,
                                      what=f"the {params.rows} x {params.cols} systolic unit",
                                      kind=f"systolic/{simulator}")
    return Built(runner, bdir, params, simulator, time.perf_counter() - t0)


@dataclasses.dataclass
class Phase:
    writes: tuple = ((), ())          # (addresses, data)
    action: str = ""                  # "start", "resume" or "" (none)
    reads: tuple = ()                 # addresses
    max_cycles: int = 10_000_000
    gather: dict = None               # before the action: read, gather, write (gather_phase)


def gather_phase(params, step):
    """The host's part of an RHM between layers (eiegen.sw.systolic.compiler.HostGather)
    as bus words: read the source region's words, take lane slot index[i, j]
    of them (word * chunk_lanes + lane in the word; -1: zero) as lane j of
    destination word i, write the destination words."""
    lo = busmap.layout(params, "ub")
    lanes = params.ub_lanes
    src_ids = np.arange(1, step.src.rows * lanes + 1).reshape(step.src.rows, lanes)
    dst = step.apply(src_ids, lanes) - 1                       # (dst rows, lanes): row * lanes + lane
    r, lane = np.divmod(np.maximum(dst, 0), lanes)
    slot = (r * lo.chunks + lane // lo.chunk_lanes) * lo.chunk_lanes + lane % lo.chunk_lanes
    slot = np.where(dst >= 0, slot, -1)
    index = np.full((step.dst.rows * lo.chunks, lo.chunk_lanes), -1, dtype=np.int64)
    for k in range(lo.chunks):
        part = slot[:, k * lo.chunk_lanes:(k + 1) * lo.chunk_lanes]
        index[k::lo.chunks, :part.shape[1]] = part
    return {"src": busmap.read_addrs(params, "ub", step.src.base, step.src.rows),
            "dst": busmap.read_addrs(params, "ub", step.dst.base, step.dst.rows),
            "index": index, "lane_bits": lo.lane_bits}


@dataclasses.dataclass
class Job:
    phases: list


def run_jobs(built, jobs, test_dir=None, *, waves=None):
    """Run `jobs` in one simulator process. Returns (per job: per phase
    {"reads": [int], "done", "waiting", "error", "sim_cycles"}), stats."""
    key = hashlib.sha256(f"{os.getpid()}-{time.time_ns()}".encode()).hexdigest()[:10]
    test_dir = Path(test_dir or (built.build_dir / f"run-{key}"))
    jobs_dir = test_dir / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    manifest = []
    for k, job in enumerate(jobs):
        arrays = {}
        phases = []
        for i, ph in enumerate(job.phases):
            wa, wd = ph.writes
            arrays[f"w_addr{i}"] = np.asarray(wa, dtype=np.uint64)
            arrays[f"w_data{i}"] = np.asarray(wd, dtype=np.uint64)
            arrays[f"r_addr{i}"] = np.asarray(ph.reads, dtype=np.uint64)
            desc = {"action": ph.action, "max_cycles": int(ph.max_cycles)}
            if ph.gather is not None:
                arrays[f"g_src{i}"] = np.asarray(ph.gather["src"], dtype=np.uint64)
                arrays[f"g_dst{i}"] = np.asarray(ph.gather["dst"], dtype=np.uint64)
                arrays[f"g_index{i}"] = np.asarray(ph.gather["index"], dtype=np.int64)
                desc["gather_lane_bits"] = int(ph.gather["lane_bits"])
            phases.append(desc)
        name = f"job{k:03d}.npz"
        np.savez(jobs_dir / name, **arrays)
        manifest.append({"file": name, "phases": phases})
    (jobs_dir / "jobs.json").write_text(json.dumps(manifest))
    doc = cocotb_harness.run(built.runner, TOPLEVEL, "eiegen.sim.cocotb_systolic", test_dir,
                             extra_env={"EIEGEN_SYSTOLIC_JOBS": str(jobs_dir.resolve())},
                             build_dir=built.build_dir / "sim", log=test_dir / "sim.log",
                             waves=waves)
    if "jobs" not in doc:
        raise SystolicError(f"the cocotb run reported nothing; see {test_dir}")
    out = []
    for res in doc["jobs"]:
        for ph in res["phases"]:
            ph["reads"] = [int(v) for v in ph["reads"]]
        out.append(res["phases"])
    stats = {k: doc[k] for k in ("wall_seconds", "run_wall_seconds", "run_cycles", "bus_cycles")}
    return out, stats


@dataclasses.dataclass
class RunResult:
    y: np.ndarray
    counters: dict
    error: bool
    sim_cycles: int


def _writes(params, writes):
    addrs, datas = [], []
    for mem, base, rows in writes:
        a, d = busmap.write_words(params, mem, base, rows)
        addrs.append(a)
        datas.append(d)
    return np.concatenate(addrs), np.concatenate(datas)


def compiled_job(compiled, x, max_cycles=10_000_000):
    """Load, start, do the host steps at each RHM (gathers between layers),
    read the result and the counters."""
    p = compiled.params
    mem, base, n = compiled.output_read()
    reads = list(busmap.read_addrs(p, mem, base, n))
    reads += [busmap.reg_addr(c) for c in COUNTERS] + [busmap.reg_addr("ctrl")]
    phases = [Phase(writes=_writes(p, compiled.memory_writes(x)), action="start",
                    max_cycles=max_cycles)]
    for step in compiled.host_steps or []:
        phases.append(Phase(action="resume", gather=gather_phase(p, step), max_cycles=max_cycles))
    phases[-1].reads = reads
    return Job(phases)


def decode_compiled(compiled, phases):
    p = compiled.params
    mem, base, n = compiled.output_read()
    ph = phases[-1]
    if any(q.get("timeout") for q in phases):
        raise SystolicError("the unit did not finish (no done) within the cycle limit")
    if len(phases) != 1 + len(compiled.host_steps or []) or not ph.get("done"):
        raise SystolicError("the unit stopped before the end of the program "
                            f"(after {len(phases)} of {1 + len(compiled.host_steps or [])} phases)")
    reads = ph["reads"]
    k = n * busmap.layout(p, mem).chunks
    y = compiled.unpack_output(busmap.decode_words(p, mem, reads[:k], n))
    counters = dict(zip(COUNTERS, reads[k:k + len(COUNTERS)]))
    status = reads[-1]
    return RunResult(y, counters, bool(status >> 3 & 1), sum(q.get("sim_cycles", 0) for q in phases))


def run_compiled(compiled, xs, *, simulator="verilator", built=None, waves=None):
    """Run the compiled program once per input matrix in `xs` (one simulator
    run). Returns ([RunResult], stats). `waves`: file for the waveforms
    (`built` from build(..., waves=True))."""
    built = built or build(compiled.params, simulator,
                           waves=cocotb_harness.wave_format(waves) if waves else None)
    jobs = [compiled_job(compiled, x) for x in xs]
    phases, stats = run_jobs(built, jobs, waves=waves)
    return [decode_compiled(compiled, ph) for ph in phases], stats


def run_many(built, cases):
    """Run several (compiled, x) cases in one simulator run; returns
    ([RunResult], stats)."""
    jobs = [compiled_job(c, x) for c, x in cases]
    phases, stats = run_jobs(built, jobs)
    return [decode_compiled(c, ph) for (c, _), ph in zip(cases, phases)], stats


def run_layers(x, layers, params, *, output="int8", simulator="verilator", built=None, **kw):
    """Compile `layers` for input x (M, K), run on the RTL, compare with the
    golden model; returns (RunResult, golden output, stats)."""
    x = np.asarray(x)
    comp = compile_layers(x.shape[0], layers, params, output=output, **kw)
    (res,), stats = run_compiled(comp, [x], simulator=simulator, built=built)
    return res, golden_output(comp, x), stats


def golden_output(compiled, x):
    """What the golden model says the compiled layers give for input x: the
    last layer's output matrix, or a convolution's output tensor in its layout."""
    from ...sim.systolic_golden import forward
    p = compiled.params
    return forward(x, compiled.layers, p.in_width, p.acc_width, raw_last=compiled.y.memory == "acc")


def run_matmul(x, w, params, *, mult=1, shift=0, relu=False, output="int8",
               simulator="verilator", built=None, **kw):
    """(M x K) @ (K x N) on the RTL; returns (RunResult, golden output, stats)."""
    return run_layers(x, [Layer(np.asarray(w), mult, shift, relu)], params, output=output,
                      simulator=simulator, built=built, **kw)
