"""Run EIE images on the generated Verilog of the array (cocotb).

build(params, simulator) converts EIEArray(params) to Verilog once per
parameter set (memories as eiegen_ram instances that $readmemh the image
folder named by +eiegen_mem=...) and builds the simulator model;
run(image_dir, inputs, params) runs every input vector through it and
returns outputs and performance counters. build() reports its progress
(cached, or building and how long the last build took) on stderr or to a
`progress` callback; `waves=True` builds a separately cached model that
records waveforms, and run(..., waves="eie.vcd") writes them (.vcd, or .fst:
the suffix chooses the format). The cocotb side
(sim/cocotb_eie.py) writes the input activations and reads the outputs
over the host bus, and otherwise only waits for `done`: no Python runs per
clock cycle while the array computes.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from . import cocotb_harness
from ..hw.common.ram import ReadmemhPlatform, VERILOG_SOURCE
from ..hw.eie.array import EIEArray

#: the generator this process imported (cocotb_harness.generator_digest)
_SOURCE_DIGEST = cocotb_harness.generator_digest()

__all__ = ["build", "run", "check", "TOPLEVEL", "default_build_root", "progress_callback", "is_built",
           "last_build_seconds"]

TOPLEVEL = "eie_top"


def default_build_root():
    """Simulator builds: sim/ of eiegen's cache folder (eiegen.sw.paths)."""
    from ..sw.paths import cache_dir
    return cache_dir("sim")


def _config_key(params, simulator, waves=False):
    doc = {"params": params.to_dict(), "sim": simulator, "src": _SOURCE_DIGEST}
    if waves:
        doc["waves"] = waves
    blob = json.dumps(doc, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class Built:
    def __init__(self, runner, build_dir, params, simulator, waves=False, cached=False):
        self.runner, self.build_dir, self.params, self.simulator = runner, build_dir, params, simulator
        self.waves, self.cached = waves, cached


def _stderr(line):
    print(line, file=sys.stderr, flush=True)


def progress_callback(progress):
    """progress=True: lines on stderr; False/None: silent; a callable: called with each line."""
    if progress is True:
        return _stderr
    return progress or None


def _build_dir(params, simulator, build_root=None, waves=None):
    build_root = Path(build_root or default_build_root())
    key = _config_key(params, simulator, waves)
    return build_root, key, build_root / f"eie-n{params.n_pes}-{simulator}{'-waves-' + waves if waves else ''}-{key}"


def is_built(params, simulator="verilator", build_root=None):
    """Whether build(params, simulator) would reuse a cached model (no waves)."""
    _, _, bdir = _build_dir(params, simulator, build_root)
    return (bdir / "sim" / "eiegen.build-digest").exists() and \
        (bdir / "sim" / (TOPLEVEL if simulator == "verilator" else "sim.vvp")).exists()


def _build_kind(params, simulator):
    """Builds of one kind take about as long: the simulator, N and the activation depth."""
    return f"eie/{simulator}/n{params.n_pes}-act{params.act_depth}"


def last_build_seconds(params, simulator, build_root=None):
    """How long the last build of this kind (_build_kind) took here (None if none)."""
    path = Path(build_root or default_build_root()) / "build-times.json"
    try:
        return json.loads(path.read_text()).get(_build_kind(params, simulator))
    except (OSError, ValueError):
        return None


def build(params, simulator="verilator", build_root=None, *, waves=None, progress=True):
    """Generate and build the array for `params` (cached by parameters and
    source digest; safe under pytest-xdist). `waves`: a model that records
    waveforms, "vcd" or "fst" (True: "vcd"; cached apart from the default
    one; default: EIEGEN_WAVES).
    `progress`: True prints on stderr whether the model is cached or being
    built (and how long that took), a callable gets those lines, False is silent."""
    if waves is None:
        waves = cocotb_harness.waves_requested()
    waves = cocotb_harness.wave_variant(waves, simulator)
    build_root, key, bdir = _build_dir(params, simulator, build_root, waves)
    progress = progress_callback(progress)
    with cocotb_harness.file_lock(build_root / f".lock-{key}"):
        vpath = bdir / f"{TOPLEVEL}.v"
        if not vpath.exists():
            if progress is not None:
                progress(f"generating the Verilog of the {params.n_pes}-PE EIE array ...")
            cocotb_harness.write_verilog(EIEArray(params), vpath, name=TOPLEVEL,
                                         platform=ReadmemhPlatform())
        runner = cocotb_harness.build([VERILOG_SOURCE, vpath], TOPLEVEL, bdir / "sim",
                                      simulator=simulator, log=bdir / "build.log", waves=waves,
                                      progress=progress,
                                      what=f"the {params.n_pes}-PE EIE array", kind=_build_kind(params, simulator))
    return Built(runner, bdir, params, simulator, waves, runner.eiegen_cached)


def run(built, image_dir, inputs, *, test_dir=None, timeout_cycles=None, progress=False, waves=None):
    """Run int16 input vectors (batch, n_in) through the array holding the image.
    Returns {"outputs": (batch, n_out) int16, "counters": [per-input dict]}.
    `waves`: file for the waveforms, .vcd or .fst (its suffix chooses);
    `built` must come from build(..., waves=that format)."""
    image_dir = Path(image_dir).resolve()
    inputs = np.atleast_2d(np.asarray(inputs, dtype=np.int16))
    test_dir = Path(test_dir or (built.build_dir / "run")).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    np.save(test_dir / "inputs.npy", inputs)
    env = {"EIEGEN_IMAGE": str(image_dir), "EIEGEN_INPUTS": str(test_dir / "inputs.npy"),
           "EIEGEN_PROGRESS": "1" if progress else "0"}
    if timeout_cycles is not None:
        env["EIEGEN_TIMEOUT_CYCLES"] = str(int(timeout_cycles))
    doc = cocotb_harness.run(built.runner, TOPLEVEL, "eiegen.sim.cocotb_eie", test_dir,
                             plusargs=[f"+eiegen_mem={image_dir}"], extra_env=env,
                             build_dir=built.build_dir / "sim", log=test_dir / "sim.log",
                             waves=waves)
    if "error" in doc:
        recorded = waves or (test_dir / f"waves.{cocotb_harness.waves_requested()}"
                             if built.waves and cocotb_harness.waves_requested() else None)
        raise cocotb_harness.SimulationError(doc["error"] + (f"; waves in {recorded}" if recorded else ""))
    return {"outputs": np.array(doc["outputs"], dtype=np.int16).reshape(len(inputs), -1),
            "counters": doc["counters"], "sim_seconds": doc.get("sim_seconds"),
            "compute_seconds": doc.get("compute_seconds"),
            "sim_cycles": doc.get("sim_cycles")}


def check(image, inputs, result, *, fifo_depth=None, params=None):
    """`params`: the array's EIEParams (else the image's with this fifo_depth)."""
    """Compare an RTL run with the golden and cycle models. Returns a dict:
    output mismatches (count and first few), and per input the counters of
    the RTL beside the cycle model's, with `cycles_equal` when all agree."""
    from .eie_golden import image_forward
    from .eie_cycles import simulate
    inputs = np.atleast_2d(np.asarray(inputs, dtype=np.int16))
    decoded = image.decode()
    p = image.params
    outs = image_forward(decoded, inputs, frac=p.frac, acc_width=p.acc_width, all_layers=True)
    golden = outs[-1]
    rtl = result["outputs"]
    bad = np.argwhere(rtl != golden)
    per_input = []
    all_equal = True
    for b in range(len(inputs)):
        layer_inputs = [inputs[b]] + [o[b] for o in outs[:-1]]
        model = simulate(image, inputs[b], fifo_depth=fifo_depth, params=params,
                         layer_inputs=layer_inputs)
        got = result["counters"][b]
        want = {"cycles": model.total_cycles, "broadcasts": model.broadcasts,
                "bcast_stall": model.bcast_stall, "busy": [int(v) for v in model.busy],
                "idle": [int(v) for v in model.idle]}
        equal = all(got[k] == want[k] for k in want)
        all_equal &= equal
        per_input.append({"rtl": got, "model": want, "equal": equal,
                          "load_efficiency": model.load_efficiency})
    return {"mismatches": int(len(bad)),
            "first_mismatches": [(int(b), int(i), int(rtl[b, i]), int(golden[b, i])) for b, i in bad[:5]],
            "golden": golden, "cycles_equal": all_equal, "per_input": per_input}
