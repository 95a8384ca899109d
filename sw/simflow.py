"""`eiegen sim` end to end: train, compress, pack, run on the generated RTL.

The flow (docs/sim.md):

1. data and model: scikit-learn's digits (8 x 8 pixels, 10 classes), a
   64-128-64-10 MLP trained in numpy (eiegen.sw.train), or a given model;
2. Deep Compression: iterative pruning with masked retraining, k-means
   weight sharing to 4 bits with centroid fine-tuning (eiegen.sw.train.
   deep_compress, the same code as `eiegen compress --data`), and the
   storage report with Huffman coding (eiegen.sw.compress);
3. the packer writes the EIE memory image for N PEs (memory depths fitted
   to the model);
4. the bit-exact golden model classifies the test set in int16 fixed point;
5. the generated Verilog of the array runs the same inputs in one simulator
   session (Verilator by default, or Icarus); its outputs must equal the
   golden model's bit for bit and its counters the cycle model's;
6. the same network, dense, on the systolic unit with as many multipliers
   (R x C = N), cycles from its validated cycle model: EIE's speed-up.

run_flow() returns the result as a dict (also written as report.json) and
writes the artefacts to one output folder atomically.
"""

import dataclasses
import json
import math
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np

from .errors import EiegenError, ModelError
from .model import CompressedModel, FloatModel, load_model, save_compressed_model, save_float_model
from .train import DIGITS_HIDDEN

__all__ = ["SimOptions", "run_flow", "board_eie_defaults", "systolic_dense_cycles", "systolic_shape",
           "format_table", "DEFAULT_HIDDEN", "DEFAULT_SPARSITY", "DEFAULT_OUT"]

DEFAULT_HIDDEN = DIGITS_HIDDEN
DEFAULT_SPARSITY = 0.8
DEFAULT_OUT = Path("build/make-sim")
SWEEP_SPARSITIES = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95)


#: EIEParams fields that set the array's pipeline and queues, not its memories
TIMING_FIELDS = ("mem_latency", "queue_slots", "lnzd_slots")


def board_eie_timing():
    """{field: value} of TIMING_FIELDS the iCEBreaker build sets (empty when
    the board module cannot be imported)."""
    try:
        from ..boards.icebreaker import BOARD
    except Exception:                 # noqa: BLE001 - as board_eie_defaults
        return {}
    return {k: int(v) for k, v in BOARD.eie.items() if k in TIMING_FIELDS}


def board_eie_defaults():
    """(n_pes, fifo_depth, source): the iCEBreaker build's EIE array size
    (eiegen.boards.icebreaker BOARD.eie), or EIEParams' defaults when the
    board module cannot be imported."""
    from ..hw.eie.params import EIEParams
    try:
        from ..boards.icebreaker import BOARD
        eie = dict(BOARD.eie)
        return int(eie["n_pes"]), int(eie.get("fifo_depth", EIEParams().fifo_depth)), "iCEBreaker build"
    except Exception as exc:          # noqa: BLE001 - any import problem means: no board defaults
        d = EIEParams()
        return d.n_pes, d.fifo_depth, f"EIEParams defaults (board module not importable: {exc})"


@dataclasses.dataclass
class SimOptions:
    model: str | None = None              # float or compressed model file; None = train
    data: str | None = None               # .npz data set (x_test, y_test[, x_train, y_train])
    hidden: tuple = DEFAULT_HIDDEN        # hidden layer sizes of the trained MLP
    sparsity: object = DEFAULT_SPARSITY   # float or {layer: float}
    bits: int = 4
    balance: bool = False
    pes: int | None = None                # None: board default
    fifo_depth: int | None = None         # None: board default
    frac: int = 8
    acc_width: int = 32
    entries_per_word: int = 2
    simulator: str = "verilator"          # or "icarus", or "none" (golden and cycle model only)
    limit: int | None = None              # test samples (first `limit` of the test split)
    out: Path = DEFAULT_OUT
    seed: int = 0
    epochs: int = 40
    retrain_epochs: int = 15
    finetune_epochs: int = 10
    prune_steps: int = 3
    lr: float = 1e-3
    weight_decay: float = 1e-3
    sweep: bool = True                    # accuracy vs sparsity plot (retrains per point)
    max_drop: float = 1.0                 # allowed accuracy loss, percentage points
    systolic_batch: int = 32              # the second, batched systolic figure
    depths: dict | None = None            # memory depths to keep (EIEParams fields); others fitted
    force: bool = False                   # replace `out` even if it is not an earlier output
    waves: str | None = None              # record the RTL run's waveforms here (.vcd / .fst)


class _Log:
    def __init__(self, stream=None, quiet=False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, line):
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {line}", file=self.stream, flush=True)


class _SimLogTail(threading.Thread):
    """Follows the simulator log for the cocotb test's per-input lines and
    reports every ~10 % of the inputs (the simulator runs in a subprocess)."""

    LINE = re.compile(r"\[eiegen\] input (\d+)/(\d+)")

    def __init__(self, path, total, log):
        super().__init__(daemon=True)
        self.path, self.total, self.log = Path(path), total, log
        self.stop = threading.Event()
        self.step = max(1, total // 10)
        self.seen = 0

    def run(self):
        pos = 0
        while not self.stop.wait(0.5):
            try:
                with open(self.path, "r", errors="replace") as f:
                    f.seek(pos)
                    text = f.read()
                    pos = f.tell()
            except FileNotFoundError:
                continue
            for m in self.LINE.finditer(text):
                k = int(m.group(1))
                if k >= self.seen + self.step or k == self.total:
                    self.seen = k
                    self.log(f"  RTL: {k}/{self.total} inputs done")


def systolic_shape(n_mult):
    """R x C with R * C = n_mult, as square as possible (R <= C)."""
    r = int(math.isqrt(n_mult))
    while n_mult % r:
        r -= 1
    return r, n_mult // r


def systolic_dense_cycles(shapes, rows, cols, batch=1):
    """Cycles of the dense network (layer shapes (outputs, inputs)) on a rows x
    cols systolic unit for `batch` input vectors: the systolic compiler's
    program through the unit's cycle model (eiegen.sw.systolic.compare.
    dense_cycles; equal to the RTL's counters by the systolic tests)."""
    from .systolic.compare import dense_cycles
    from .systolic.errors import SystolicError
    try:
        return int(dense_cycles([(n_in, n_out) for n_out, n_in in shapes], rows, cols, batch))
    except SystolicError as exc:
        raise EiegenError(f"systolic cycle model: {exc}") from None


def _load_data(opts, model, log):
    from .train import load_dataset_npz, load_digits_dataset
    if opts.data:
        data = load_dataset_npz(opts.data)
    else:
        data = load_digits_dataset(seed=0)
    if model is not None:
        n_in, n_out = model.layers[0].shape[1], model.layers[-1].shape[0]
        if n_in != data.n_inputs or n_out < data.n_classes:
            if opts.data:
                raise EiegenError(f"model {opts.model} takes {n_in} inputs and gives {n_out} outputs; "
                                  f"the data set {opts.data} has {data.n_inputs} features and "
                                  f"{data.n_classes} classes")
            raise EiegenError(f"model {opts.model} takes {n_in} inputs and gives {n_out} outputs; "
                              f"without --data the test set is digits (64 inputs, 10 classes): "
                              "give a matching model or --data FILE.npz with x_test and y_test")
    log(f"data: {data.name}, {0 if data.x_train is None else len(data.x_train)} training and "
        f"{len(data.x_test)} test samples of {data.n_inputs} features, {data.n_classes} classes")
    return data


def _check_options(o):
    if o.simulator not in ("verilator", "icarus", "none"):
        raise EiegenError(f"--simulator must be verilator, icarus or none, got '{o.simulator}'")
    if o.limit is not None and o.limit < 1:
        raise EiegenError(f"--limit must be at least 1, got {o.limit}")
    if o.pes is not None and not 1 <= o.pes <= 64:
        raise EiegenError(f"--pes must be in 1..64, got {o.pes}")
    if o.fifo_depth is not None and not 1 <= o.fifo_depth <= 64:
        raise EiegenError(f"--fifo-depth must be in 1..64, got {o.fifo_depth}")
    if any(int(h) < 1 for h in o.hidden):
        raise EiegenError(f"--hidden sizes must be positive, got {list(o.hidden)}")
    for name in ("epochs", "retrain_epochs", "finetune_epochs"):
        if getattr(o, name) < 0:
            raise EiegenError(f"--{name.replace('_', '-')} must be >= 0")
    if o.prune_steps < 1:
        raise EiegenError("--prune-steps must be at least 1")
    from .atomic import check_output
    check_output(o.out, "sim-output", force=o.force, inputs=[o.model, o.data])
    if o.waves is not None:
        from ..sim.cocotb_harness import check_waves_path
        if o.simulator == "none":
            raise EiegenError("--waves records the RTL run; it needs --simulator verilator or icarus")
        problem = check_waves_path(o.waves, o.simulator)
        if problem:
            raise EiegenError(problem)
        check_output(o.waves, "waves", force=o.force, inputs=[o.model, o.data])


def _plot_sweep(sweep, chosen, path):
    from .plotting import percent_ticks
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    dens = [100 * (1 - s) for s in sweep["sparsities"]]
    ax.plot(dens, [100 * a for a in sweep["pruned"]], "o-", label="pruned + retrained (float)")
    ax.plot(dens, [100 * a for a in sweep["both"]], "s-",
            label=f"pruned + {sweep['bits']}-bit trained quantization (float)")
    ax.axhline(100 * sweep["float"], color="k", ls="--", lw=1, label="float, dense")
    if chosen is not None:
        ax.plot([100 * chosen["density"]], [100 * chosen["golden"]], "r*", ms=12,
                label="this run: int16 golden = RTL")
    ax.set_xscale("log")
    percent_ticks(ax, dens)
    ax.set_xlabel("weights kept (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Digits MLP: accuracy vs sparsity")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_pe_load(busy, idle, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(busy)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.5 * n + 3), 3.8))
    x = np.arange(n)
    ax.bar(x, busy, label="busy (entries issued)")
    ax.bar(x, idle, bottom=busy, label="idle (waiting for work)", color="lightgray")
    ax.set_xticks(x)
    ax.set_xlabel("PE")
    ax.set_ylabel("cycles, summed over the test set")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _accuracy_from_logits(y, labels):
    return float(np.mean(np.argmax(y, axis=1) == labels))


@dataclasses.dataclass
class _Run:
    """The state one run of the flow passes from step to step."""
    opts: SimOptions
    log: object
    n_pes: int
    fifo: int
    board_src: str
    base: object                          # EIEParams before the memory depths are fitted
    given: object                         # the model of --model, or None
    data: object                          # train.Dataset
    n_test: int
    x_eval: np.ndarray
    y_eval: np.ndarray
    timings: dict = dataclasses.field(default_factory=dict)
    float_model: object = None
    compressed: object = None
    pruned: object = None
    creport: object = None
    sweep: dict | None = None
    params: object = None
    image: object = None
    xq: np.ndarray | None = None
    acc: dict | None = None
    acc_all: dict | None = None
    rtl: dict | None = None
    systolic: dict | None = None


def run_flow(opts, log=None):
    """Run the whole flow; returns the report dict. Raises EiegenError on bad
    input; a run whose RTL disagrees with the golden model returns normally
    with report["rtl"]["bit_exact"] False (the command then exits non-zero)."""
    from threadpoolctl import threadpool_limits
    from .atomic import atomic_dir
    from .image import write_image

    t_start = time.perf_counter()
    run = _setup(opts, log or _Log())
    with threadpool_limits(1):     # small matrices: BLAS threads only contend on shared cores
        _step_float_model(run)
        _step_compress(run)
        _step_sweep(run)
    _step_pack(run)
    _step_golden(run)
    out = Path(opts.out)
    with atomic_dir(out, kind="sim-output", force=opts.force) as tmp:
        image_dir = tmp / "image"
        write_image(run.image, image_dir)
        if opts.simulator != "none":
            _step_rtl(run, tmp, image_dir)
        else:
            _step_cycle_model(run, tmp)
        _step_systolic(run)
        result = _write_results(run, tmp, t_start)
    result["out"] = str(out)
    return result


def _setup(opts, log):
    """Check the options, choose the array, load the model and the data."""
    from ..hw.eie.params import EIEParams
    _check_options(opts)
    board_pes, board_fifo, board_src = board_eie_defaults()
    n_pes = opts.pes if opts.pes is not None else board_pes
    fifo = opts.fifo_depth if opts.fifo_depth is not None else board_fifo
    # the board's pipeline and queue settings come with its array size: with
    # --pes or --fifo-depth given, the generator's automatic ones (full rate)
    timing = board_eie_timing() if opts.pes is None and opts.fifo_depth is None else {}
    try:
        base = EIEParams(n_pes=n_pes, fifo_depth=fifo, frac=opts.frac, acc_width=opts.acc_width,
                         entries_per_word=opts.entries_per_word, **timing, **(opts.depths or {}))
    except ValueError as exc:
        raise EiegenError(f"generator parameters: {exc}") from None
    log(f"EIE array: N = {n_pes} PEs, FIFO depth {fifo} "
        f"({'given' if opts.pes is not None else 'default from ' + board_src}), "
        f"int16 with {opts.frac} fractional bits")

    given = load_model(opts.model) if opts.model else None
    data = _load_data(opts, given, log)
    n_test = len(data.x_test) if opts.limit is None else min(opts.limit, len(data.x_test))
    x_eval, y_eval = data.x_test[:n_test], data.y_test[:n_test]
    fmax = float(np.abs(x_eval).max())
    if fmax >= 2 ** (15 - opts.frac):
        log(f"warning: inputs reach {fmax:g}, beyond the int16 range with {opts.frac} fractional "
            f"bits (+-{2 ** (15 - opts.frac)}): they saturate")

    names = ([l.name for l in given.layers] if given is not None
             else [f"fc{i + 1}" for i in range(len(opts.hidden) + 1)])
    if isinstance(opts.sparsity, dict) and set(opts.sparsity) != set(names):
        raise EiegenError(f"--sparsity names layers {sorted(opts.sparsity)}; the model's layers are "
                          f"{names}")
    return _Run(opts=opts, log=log, n_pes=n_pes, fifo=fifo, board_src=board_src, base=base,
                given=given, data=data, n_test=n_test, x_eval=x_eval, y_eval=y_eval)


def _step_float_model(run):
    """1. the float model: trained here, or the given one."""
    from . import train as T
    opts, log, data, given = run.opts, run.log, run.data, run.given
    t0 = time.perf_counter()
    if given is None:
        sizes = [data.n_inputs, *map(int, opts.hidden), data.n_classes]
        log(f"[1/6] training a {'-'.join(map(str, sizes))} MLP (ReLU, softmax cross-entropy, Adam, "
            f"{opts.epochs} epochs, seed {opts.seed})")
        run.float_model = T.train(T.init_mlp(sizes, seed=opts.seed), data, epochs=opts.epochs,
                                  lr=opts.lr, weight_decay=opts.weight_decay, seed=opts.seed,
                                  progress=log)
    elif isinstance(given, FloatModel):
        log(f"[1/6] float model from {opts.model} (no training)")
        run.float_model = given
    else:
        log(f"[1/6] compressed model from {opts.model} (no training, no compression)")
    run.timings["train"] = time.perf_counter() - t0


def _step_compress(run):
    """2. Deep Compression (with retraining when the data has a training split)."""
    from .compress import compression_report, compress_model
    from . import train as T
    opts, log, data = run.opts, run.log, run.data
    t0 = time.perf_counter()
    if run.float_model is not None:
        if data.x_train is not None:
            log(f"[2/6] Deep Compression: prune to sparsity {opts.sparsity} in {opts.prune_steps} "
                f"steps with {opts.retrain_epochs} retraining epochs each"
                f"{', load-balanced for %d PEs' % run.n_pes if opts.balance else ''}; "
                f"{opts.bits}-bit trained quantization, {opts.finetune_epochs} fine-tuning epochs")
            run.compressed, run.pruned = T.deep_compress(
                run.float_model, data, opts.sparsity, bits=opts.bits, pes=run.n_pes, balance=opts.balance,
                prune_steps=opts.prune_steps, retrain_epochs=opts.retrain_epochs,
                finetune_epochs=opts.finetune_epochs, lr=opts.lr, seed=opts.seed, progress=log)
        else:
            log("[2/6] Deep Compression without retraining (the data set has no training split)")
            run.compressed = compress_model(run.float_model, sparsity=opts.sparsity, bits=opts.bits,
                                            pes=run.n_pes if opts.balance else None, balance=opts.balance,
                                            progress=log)
    else:
        run.compressed = run.given
    if run.compressed.layers[-1].relu:
        log("note: the last layer has ReLU; the class is still the argmax of its outputs")
    run.creport = compression_report(run.compressed, run.float_model, run.n_pes)
    run.timings["compress"] = time.perf_counter() - t0


def _step_sweep(run):
    """Accuracy against sparsity for the plot (only for the network trained here)."""
    from . import train as T
    opts, data = run.opts, run.data
    if not (opts.sweep and run.float_model is not None and data.x_train is not None and run.given is None):
        return
    t0 = time.perf_counter()
    run.log(f"accuracy vs sparsity sweep ({len(SWEEP_SPARSITIES)} points, shorter retraining) ...")
    run.sweep = T.sparsity_sweep(run.float_model, data, SWEEP_SPARSITIES, bits=opts.bits, pes=run.n_pes,
                                 balance=opts.balance, prune_steps=2,
                                 retrain_epochs=max(1, opts.retrain_epochs // 2),
                                 finetune_epochs=max(1, opts.finetune_epochs // 2), lr=opts.lr,
                                 seed=opts.seed, progress=run.log)
    run.timings["sweep"] = time.perf_counter() - t0


def _step_pack(run):
    """3. the EIE memory image, memory depths fitted to the model."""
    from .fit import fit_params
    from .packer import pack
    t0 = time.perf_counter()
    run.params = params = fit_params(run.compressed, run.base, explicit=tuple(run.opts.depths or ()))
    run.image = image = pack(run.compressed, params)
    run.timings["pack"] = time.perf_counter() - t0
    run.log(f"[3/6] packed for {run.n_pes} PEs: {image.stats['entries']} entries "
            f"({image.stats['padding_entries']} padding), memories spmat {params.spmat_depth} x "
            f"{params.spmat_width} b, ptr 2 x {params.ptr_depth}, act {params.act_depth} per PE")


def _step_golden(run):
    """4. the bit-exact golden model on the test inputs (and on the whole test
    split when --limit runs fewer: the accuracy check uses all)."""
    from ..sim.eie_golden import image_forward
    from .fixedpoint import to_fixed
    from . import train as T
    opts, data, fm = run.opts, run.data, run.float_model
    run.xq = to_fixed(run.x_eval, opts.frac)
    golden = image_forward(run.image.decode(), run.xq, frac=opts.frac, acc_width=opts.acc_width)
    run.acc = acc = {
        "float": T.accuracy(fm, run.x_eval, run.y_eval) if fm is not None else None,
        "pruned_float": T.accuracy(run.pruned, run.x_eval, run.y_eval) if run.pruned is not None else None,
        "compressed_float": T.accuracy(run.compressed, run.x_eval, run.y_eval),
        "golden": _accuracy_from_logits(golden, run.y_eval),
    }
    run.log(f"[4/6] golden model (int16, bit-exact spec) on {run.n_test} test samples: accuracy "
            f"{acc['golden']:.2%}" + (f" (float {acc['float']:.2%})" if acc["float"] is not None else ""))
    if run.n_test < len(data.x_test):
        g_all = image_forward(run.image.decode(), to_fixed(data.x_test, opts.frac), frac=opts.frac,
                              acc_width=opts.acc_width)
        run.acc_all = {"float": T.accuracy(fm, data.x_test, data.y_test) if fm is not None else None,
                       "golden": _accuracy_from_logits(g_all, data.y_test), "samples": len(data.x_test)}
        run.log(f"  on all {len(data.x_test)} test samples: golden {run.acc_all['golden']:.2%}"
                + (f", float {run.acc_all['float']:.2%}" if run.acc_all["float"] is not None else ""))
    else:
        run.acc_all = {"float": acc["float"], "golden": acc["golden"], "samples": run.n_test}


def _step_rtl(run, tmp, image_dir):
    """5. the generated Verilog on the test inputs, in one simulator session."""
    from ..sim import eie_harness
    opts, log, params, n_test = run.opts, run.log, run.params, run.n_test
    t0 = time.perf_counter()
    from ..sim.cocotb_harness import wave_format
    log(f"[5/6] the {run.n_pes}-PE array in {opts.simulator} (simulator builds are cached under "
        f"{eie_harness.default_build_root()})")
    built = eie_harness.build(params, opts.simulator, waves=wave_format(opts.waves) if opts.waves else None,
                              progress=lambda line: log("  " + line.strip()))
    run.timings["rtl_build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    log(f"  running {n_test} inputs in one {opts.simulator} session ...")
    run_dir = tmp / "rtl"
    tail = _SimLogTail(run_dir / "sim.log", n_test, log)
    tail.start()
    try:
        res = eie_harness.run(built, image_dir, run.xq, test_dir=run_dir, progress=True,
                              waves=opts.waves)
    finally:
        tail.stop.set()
        tail.join()
    run.timings["rtl_run"] = time.perf_counter() - t0
    chk = eie_harness.check(run.image, run.xq, res, fifo_depth=params.fifo_depth)
    cyc = np.array([c["cycles"] for c in res["counters"]])
    busy = np.sum([c["busy"] for c in res["counters"]], axis=0)
    idle = np.sum([c["idle"] for c in res["counters"]], axis=0)
    eff = [p["load_efficiency"] for p in chk["per_input"]]
    run.acc["rtl"] = _accuracy_from_logits(res["outputs"], run.y_eval)
    run.rtl = {
        "simulator": opts.simulator, "inputs": n_test,
        "bit_exact": chk["mismatches"] == 0, "mismatches": chk["mismatches"],
        "outputs_compared": int(res["outputs"].size),
        "first_mismatches": chk["first_mismatches"],
        "counters_equal_cycle_model": bool(chk["cycles_equal"]),
        "cycles_mean": float(cyc.mean()), "cycles_min": int(cyc.min()), "cycles_max": int(cyc.max()),
        "load_efficiency_mean": float(np.mean(eff)),
        "busy_per_pe": [int(v) for v in busy], "idle_per_pe": [int(v) for v in idle],
        "sim_cycles": res.get("sim_cycles"), "compute_seconds": res.get("compute_seconds"),
        "sim_seconds": res.get("sim_seconds"),
    }
    log(f"  RTL accuracy {run.acc['rtl']:.2%}; bit-exact with golden: "
        f"{'yes' if run.rtl['bit_exact'] else 'NO (%d mismatches)' % chk['mismatches']}; "
        f"counters equal the cycle model: {'yes' if chk['cycles_equal'] else 'NO'}")
    _plot_pe_load(busy, idle, tmp / "pe_load.png",
                  f"Per-PE load, {run.n_pes} PEs, FIFO depth {params.fifo_depth}, {n_test} inputs "
                  f"(RTL counters); load efficiency {np.mean(eff):.1%}")


def _step_cycle_model(run, tmp):
    """5. without a simulator: cycles and per-PE load from the cycle model."""
    from ..sim.eie_cycles import simulate
    from ..sim.eie_golden import image_forward
    opts, params, xq, n_test = run.opts, run.params, run.xq, run.n_test
    run.log("[5/6] no simulator (--simulator none): cycle model only")
    reps = []
    outs = image_forward(run.image.decode(), xq, frac=opts.frac, acc_width=opts.acc_width, all_layers=True)
    for b in range(n_test):
        li = [xq[b]] + [o[b] for o in outs[:-1]]
        reps.append(simulate(run.image, xq[b], fifo_depth=params.fifo_depth, layer_inputs=li))
    cyc = np.array([r.total_cycles for r in reps])
    busy = np.sum([r.busy for r in reps], axis=0)
    idle = np.sum([r.idle for r in reps], axis=0)
    run.rtl = {"simulator": "none", "inputs": n_test, "cycles_mean": float(cyc.mean()),
               "cycles_min": int(cyc.min()), "cycles_max": int(cyc.max()),
               "load_efficiency_mean": float(np.mean([r.load_efficiency for r in reps])),
               "busy_per_pe": [int(v) for v in busy], "idle_per_pe": [int(v) for v in idle]}
    _plot_pe_load(busy, idle, tmp / "pe_load.png",
                  f"Per-PE load, {run.n_pes} PEs, FIFO depth {params.fifo_depth}, {n_test} inputs "
                  "(cycle model)")


def _step_systolic(run):
    """6. the same network, dense, on a systolic unit with as many multipliers."""
    t0 = time.perf_counter()
    shapes = [l.shape for l in run.compressed.layers]
    R, C = systolic_shape(run.n_pes)
    sys1 = systolic_dense_cycles(shapes, R, C, 1)
    mb = max(1, min(run.opts.systolic_batch, run.n_test))
    sysb = systolic_dense_cycles(shapes, R, C, mb)
    run.timings["systolic"] = time.perf_counter() - t0
    cycles = run.rtl["cycles_mean"]
    run.systolic = {"rows": R, "cols": C, "multipliers": R * C,
                    "dense_macs": int(sum(a * b for a, b in shapes)),
                    "cycles_batch1": int(sys1), "batch": mb, "cycles_batched": int(sysb),
                    "cycles_per_inference_batched": sysb / mb,
                    "speedup_batch1": sys1 / cycles, "speedup_batched": (sysb / mb) / cycles}
    run.log(f"[6/6] dense on a {R} x {C} systolic unit (cycle model): {sys1} cycles per inference "
            f"at batch 1, {sysb / mb:.0f} at batch {mb}")


def _write_results(run, tmp, t_start):
    """Plots, models, test set, report.json and report.txt into the output folder."""
    opts, image, acc, acc_all = run.opts, run.image, run.acc, run.acc_all
    if run.sweep is not None:
        _plot_sweep(run.sweep, {"density": image.stats["density"], "golden": acc["golden"]},
                    tmp / "accuracy_vs_sparsity.png")
    if run.given is None:
        save_float_model(run.float_model, tmp / "model_float.npz")
    if not isinstance(run.given, CompressedModel):
        save_compressed_model(run.compressed, tmp / "model_compressed.npz")
    np.savez(tmp / "test_set.npz", x_test=run.x_eval, y_test=run.y_eval, x_test_fixed=run.xq)
    drop = None if acc_all["float"] is None else 100.0 * (acc_all["float"] - acc_all["golden"])
    total = run.creport.total
    run.timings["total"] = time.perf_counter() - t_start
    shapes = [l.shape for l in run.compressed.layers]
    data = run.data
    result = {
        "options": {k: (str(v) if isinstance(v, Path) else (list(v) if isinstance(v, tuple) else v))
                    for k, v in dataclasses.asdict(opts).items()},
        "network": "-".join([str(run.compressed.layers[0].shape[1])] + [str(s[0]) for s in shapes]),
        "data": {"name": data.name, "test_samples": run.n_test,
                 "train_samples": 0 if data.x_train is None else len(data.x_train)},
        "params": run.params.to_dict(), "n_pes_source": "given" if opts.pes is not None else run.board_src,
        "accuracy": acc, "accuracy_full_test_set": acc_all, "accuracy_drop_pp": drop,
        "max_drop_pp": opts.max_drop, "accuracy_ok": drop is None or drop <= opts.max_drop,
        "compression": {"density": total["density"], "ratio": total["ratio"],
                        "ratio_huffman": total["ratio_huffman"],
                        "ratio_with_pointers": total["ratio_with_pointers"],
                        "bits_per_weight": total["bits_per_weight"],
                        "bits_per_weight_huffman": total["bits_per_weight_huffman"],
                        "image_ratio_vs_fp32": image.stats["compression_ratio_vs_fp32"],
                        "report": run.creport.to_dict()},
        "image": image.stats, "rtl": run.rtl, "systolic": run.systolic, "sweep": run.sweep,
        "timings_s": run.timings,
        "files": sorted(p.name for p in tmp.iterdir()) + ["report.json", "report.txt"],
    }
    table = format_table(result)
    result["table"] = table
    (tmp / "report.txt").write_text(table + "\n\n" + run.creport.table() + "\n")
    (tmp / "report.json").write_text(json.dumps(result, indent=1, default=_json_default) + "\n")
    return result


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def _pct(v):
    return "n/a" if v is None else f"{100 * v:.2f}%"


def format_table(r):
    acc, rtl, sy, c = r["accuracy"], r["rtl"], r["systolic"], r["compression"]
    p = r["params"]
    sim = rtl["simulator"]
    full = r["accuracy_full_test_set"]
    part = full["samples"] != r["data"]["test_samples"]
    check = ("" if r["accuracy_drop_pp"] is None else
             f"  ({_pp(-r['accuracy_drop_pp'])} pp vs float{' on all %d' % full['samples'] if part else ''}, "
             f"limit -{r['max_drop_pp']:g} pp: {'ok' if r['accuracy_ok'] else 'EXCEEDED'})")
    rows = [
        ("float accuracy", _pct(acc["float"])),
        ("compressed accuracy (golden, int16)", _pct(acc["golden"]) + check),
        ("RTL accuracy", _pct(acc.get("rtl")) if sim != "none" else "not run (--simulator none)"),
    ]
    if sim != "none":
        rows.append(("RTL bit-exact with golden",
                     f"{'yes' if rtl['bit_exact'] else 'NO'} ({rtl['mismatches']} of "
                     f"{rtl['outputs_compared']} outputs differ); counters = cycle model: "
                     f"{'yes' if rtl['counters_equal_cycle_model'] else 'NO'}"))
    rows += [
        ("compression ratio vs fp32",
         f"{c['ratio']:.1f}x ({c['ratio_huffman']:.1f}x with Huffman; {c['ratio_with_pointers']:.1f}x "
         f"with column pointers); density {c['density']:.1%}, {c['bits_per_weight']:.1f} bits per "
         f"non-zero ({c['bits_per_weight_huffman']:.1f} Huffman)"),
        ("cycles per inference" + (" (RTL)" if sim != "none" else " (cycle model)"),
         f"{rtl['cycles_mean']:.0f} mean ({rtl['cycles_min']} .. {rtl['cycles_max']})"),
        ("load efficiency", f"{rtl['load_efficiency_mean']:.1%} (ideal compute / compute cycles, mean)"),
        (f"speed-up vs dense {sy['rows']}x{sy['cols']} systolic",
         f"{sy['speedup_batch1']:.1f}x at batch 1 ({sy['cycles_batch1']} cycles); "
         f"{sy['speedup_batched']:.1f}x vs batch {sy['batch']} "
         f"({sy['cycles_per_inference_batched']:.0f} cycles per inference)"),
    ]
    head = (f"eiegen sim: {r['data']['name']} MLP {r['network']} on a {p['n_pes']}-PE EIE array "
            f"(FIFO depth {p['fifo_depth']}), {sim if sim != 'none' else 'no RTL'}, "
            f"{r['data']['test_samples']} test samples")
    w = max(len(k) for k, _ in rows)
    return "\n".join([head] + [f"  {k.ljust(w)}  {v}" for k, v in rows])


def _pp(v):
    s = f"{v:+.2f}"
    return "0.00" if s in ("+0.00", "-0.00") else s
