"""Systolic-unit benchmarks (issue 4): utilisation against matrix size on
4x4, 8x8 and 16x16 arrays (RTL measurements beside the cycle model and
SCALE-Sim's analytic formula), and a 10 %-dense layer on the systolic unit
(run dense) against an EIE array of as many multipliers."""

import json
from pathlib import Path

import numpy as np
from amaranth import Elaboratable

ORDER = 40
TITLE = "systolic unit: utilisation vs matrix size; sparse layer vs EIE of equal multipliers"

ARRAYS = [(4, 4), (8, 8), (16, 16)]
SIZES = [4, 8, 16, 32, 64, 128, 256, 512, 1024]
RTL_MAX = {False: 64, True: 32}          # largest S run on the RTL (full, quick)

# (rows, cols) of the systolic unit vs EIE with N = rows * cols PEs (the EIE
# generator takes at most 64 PEs)
EIE_PAIRS = [(2, 2), (4, 4), (8, 8)]
SPARSE_LAYERS = [(256, 256), (1024, 1024), (4096, 1000)]
DENSITY = 0.10


def _rtl_params(R, C):
    """One build per array for every RTL size (the regression tests use the
    same parameters, so their cached builds are reused)."""
    from ...hw.systolic import SystolicParams
    if R == C == 4:
        return SystolicParams(rows=4, cols=4, ub_depth=4096, acc_depth=256, wmem_depth=8192,
                              imem_depth=4096)
    return SystolicParams(rows=R, cols=C, ub_depth=4096, acc_depth=512, wmem_depth=8192,
                          imem_depth=2048)


#: the arrays run on the RTL: 4 x 4 (its build is the regression tests', so cached after
#: `make test`); 8 x 8 and 16 x 16 (the slowest builds) with --full
RTL_ARRAYS = {False: ARRAYS[:1], True: ARRAYS}
#: seconds on an idle 2-core machine: compute without builds (quick, default); a first build
COMPUTE_SECONDS = (10, 25)
BUILD_SECONDS = {4: 60, 8: 150, 16: 400}


def estimate(quick=False, full=False):
    """[(step, seconds)]: every RTL build not cached yet, then the runs."""
    from ..systolic import rtl
    steps = []
    todo = [R for R, C in RTL_ARRAYS[full] if not rtl.is_built(_rtl_params(R, C), "verilator")]
    if todo:
        steps.append((f"{len(todo)} verilator build(s) not cached", sum(BUILD_SECONDS[R] for R in todo)))
    steps.append(("utilisation sweep and sparse layer vs EIE", COMPUTE_SECONDS[0 if quick else 1]))
    return steps


def utilisation_sweep(quick, log, full=False):
    from ...sim.systolic_cycles import scalesim_ws_cycles, utilisation
    from ..systolic import Layer, compile_layers, quant_from_scale, rtl
    from ..systolic.compare import dense_report
    rng = np.random.default_rng(4)
    sizes = SIZES[:-2] if quick else SIZES
    rows = []
    for R, C in ARRAYS:
        p = _rtl_params(R, C)
        rtl_sizes = [s for s in sizes if s <= RTL_MAX[quick]] if (R, C) in RTL_ARRAYS[full] else []
        cases = []
        for s in rtl_sizes:
            w = rng.integers(-128, 128, (s, s))
            x = rng.integers(-128, 128, (s, s))
            mult, shift = quant_from_scale(1.0 / (np.sqrt(s) * 128), p)
            cases.append((compile_layers(s, [Layer(w, mult, shift, True)], p), x))
        if rtl_sizes:
            log(f"  {R}x{C}: running S = {', '.join(map(str, rtl_sizes))} on the RTL ...")
            built = rtl.build(p, "verilator", progress=lambda line: log("    " + line.strip()))
            results, stats = rtl.run_many(built, cases)
        else:
            log(f"  {R}x{C}: cycle model and SCALE-Sim only (the RTL with --full)")
            results = []
        measured = {}
        for s, (comp, x), res in zip(rtl_sizes, cases, results):
            exact = np.array_equal(res.y, rtl.golden_output(comp, x)) and not res.error
            measured[s] = (res.counters["cycles"], exact)
        for s in sizes:
            model = dense_report([(s, s)], R, C, s, acc_depth=p.acc_depth).cycles
            ss = scalesim_ws_cycles(s, s, s, R, C)
            row = {"array": f"{R}x{C}", "R": R, "C": C, "S": s, "model_cycles": model,
                   "model_util": utilisation(s, s, s, R, C, model),
                   "scalesim_cycles": ss, "scalesim_util": utilisation(s, s, s, R, C, ss)}
            if s in measured:
                cyc, exact = measured[s]
                row.update(rtl_cycles=cyc, rtl_util=utilisation(s, s, s, R, C, cyc),
                           bit_exact=exact)
            rows.append(row)
    return rows


def print_utilisation(rows):
    print("\nUtilisation = useful MACs / (R*C*cycles), (S x S) @ (S x S) int8 matmul with ReLU + "
          "requantisation;\nRTL = cycle counter of the generated Verilog (Verilator), model = "
          "cycle model, SCALE-Sim = analytic WS formula")
    print(f"{'array':6s} {'S':>5s} {'RTL cycles':>11s} {'RTL util':>9s} {'model cycles':>13s} "
          f"{'model util':>10s} {'SCALE-Sim cyc':>13s} {'SS util':>8s} {'SS/model':>8s} {'exact':>6s}")
    for r in rows:
        rc = f"{r['rtl_cycles']:11d}" if "rtl_cycles" in r else f"{'-':>11s}"
        ru = f"{100 * r['rtl_util']:8.1f}%" if "rtl_util" in r else f"{'-':>9s}"
        ex = str(r["bit_exact"]) if "bit_exact" in r else "-"
        print(f"{r['array']:6s} {r['S']:5d} {rc} {ru} {r['model_cycles']:13d} "
              f"{100 * r['model_util']:9.1f}% {r['scalesim_cycles']:13d} "
              f"{100 * r['scalesim_util']:7.1f}% {r['scalesim_cycles'] / r['model_cycles']:7.2f}x "
              f"{ex:>6s}")
    bad = [r for r in rows if "rtl_cycles" in r and (r["rtl_cycles"] != r["model_cycles"]
                                                   or not r["bit_exact"])]
    if bad:
        print(f"WARNING: {len(bad)} RTL runs differ from the cycle model or the golden model")
    else:
        print("every RTL run: result bit-exact with the golden model, cycles equal to the model")


def sparse_vs_eie(quick, log):
    from ...hw.eie.params import EIEParams
    from ...sim.eie_cycles import simulate as eie_simulate
    from ...sim.testdata import random_compressed_model, random_input
    from ..packer import pack
    from ..systolic.compare import dense_report
    layers = SPARSE_LAYERS[:2] if quick else SPARSE_LAYERS
    rows = []
    for n_in, n_out in layers:
        rng = np.random.default_rng(n_in + n_out)
        model = random_compressed_model(rng, [n_in, n_out], DENSITY, relu_last=True)
        inputs = {"dense x": random_input(rng, n_in, 1.0), "x 35 % non-zero": random_input(rng, n_in, 0.35)}
        for R, C in EIE_PAIRS:
            n = R * C
            log(f"  layer {n_in}x{n_out}, {R}x{C} vs EIE {n} PEs ...")
            params = EIEParams(n_pes=n, entries_per_word=8, spmat_depth=1 << 20, ptr_depth=1 << 16,
                               bias_depth=1 << 15, act_depth=1 << 12, max_layers=1)
            image = pack(model, params, check=False)
            sys_r = dense_report([(n_in, n_out)], R, C, 1)
            row = {"layer": f"{n_in}x{n_out}", "R": R, "C": C, "n_pes": n,
                   "systolic_cycles": sys_r.cycles,
                   "systolic_util": n_in * n_out / (R * C * sys_r.cycles)}
            for name, x in inputs.items():
                row[name] = int(eie_simulate(image, x, fifo_depth=8).total_cycles)
            rows.append(row)
    return rows


def print_sparse(rows):
    print(f"\nOne {int(DENSITY * 100)} %-dense layer, batch 1 (matrix-vector): the systolic unit runs "
          f"it dense (cycle model, equal to the RTL's counter in the tests);\nEIE with N = R*C PEs "
          f"(one multiplier each) skips zero weights, and zero activations in the second column "
          f"(EIE cycle model, equal to its RTL's counters in tests/hw/eie)")
    print(f"{'layer':10s} {'array':6s} {'EIE N':>5s} {'systolic cyc':>12s} {'EIE (dense x)':>13s} "
          f"{'EIE gain':>8s} {'EIE (35% x)':>11s} {'EIE gain':>8s}")
    for r in rows:
        d, s = r["dense x"], r["x 35 % non-zero"]
        print(f"{r['layer']:10s} {r['R']}x{r['C']:<4d} {r['n_pes']:5d} {r['systolic_cycles']:12d} "
              f"{d:13d} {r['systolic_cycles'] / d:7.1f}x {s:11d} {r['systolic_cycles'] / s:7.1f}x")


def plot(util, sparse, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, (R, C) in enumerate(ARRAYS):
        rs = [r for r in util if (r["R"], r["C"]) == (R, C)]
        color = f"C{k}"
        ax[0].semilogx([r["S"] for r in rs], [100 * r["model_util"] for r in rs], "-", color=color,
                       label=f"{R}x{C} cycle model", base=2)
        ax[0].semilogx([r["S"] for r in rs], [100 * r["scalesim_util"] for r in rs], ":",
                       color=color, label=f"{R}x{C} SCALE-Sim", base=2)
        m = [r for r in rs if "rtl_util" in r]
        ax[0].plot([r["S"] for r in m], [100 * r["rtl_util"] for r in m], "o", color=color,
                   label=f"{R}x{C} RTL")
    ax[0].axhline(90, color="grey", lw=0.5)
    ax[0].set_xlabel("S, (S x S) @ (S x S)")
    ax[0].set_ylabel("utilisation (%)")
    ax[0].set_ylim(0, 100)
    ax[0].set_title("Systolic utilisation vs matrix size")
    ax[0].grid(alpha=0.3, which="both")
    ax[0].legend(fontsize=6, ncol=3)
    labels = [f"{r['layer']}\n{r['R']}x{r['C']}/N={r['n_pes']}" for r in sparse]
    xs = np.arange(len(sparse))
    ax[1].bar(xs - 0.27, [r["systolic_cycles"] for r in sparse], 0.27, label="systolic (dense)")
    ax[1].bar(xs, [r["dense x"] for r in sparse], 0.27, label="EIE, dense x")
    ax[1].bar(xs + 0.27, [r["x 35 % non-zero"] for r in sparse], 0.27, label="EIE, 35% x")
    ax[1].set_yscale("log")
    ax[1].set_xticks(xs)
    ax[1].set_xticklabels(labels, fontsize=6)
    ax[1].set_ylabel("cycles (batch 1)")
    ax[1].set_title(f"{int(DENSITY * 100)}%-dense layer: systolic vs EIE, equal multipliers")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "systolic.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: the networks of the EIE-beside-systolic comparison: (in, out) of each dense layer
NETWORKS = {
    "make sim MLP 64-128-64-10": [(64, 128), (128, 64), (64, 10)],
    "LeNet-300-100 784-300-100-10": [(784, 300), (300, 100), (100, 10)],
}
BOARDS = ("icebreaker", "ulx3s")


def board_inferences(boards=BOARDS, networks=None, batches=(1, 32), clocks=None):
    """Inferences per second of the default systolic build of each board on
    each network, at the build's clock (timing met there: docs/boards.md):
    the compiler's program through the cycle model (equal to the RTL's cycle
    counter in the tests), run dense. `clocks`: {board: Hz} to use another
    clock (e.g. a measured Fmax). Each row says whether the network's
    weights fit the build's weight memory; the cycles count compute only
    (weights on chip, no host transfers). For the lead's EIE half: same
    networks, same rows (board, network, batch, cycles_per_inference,
    clock_mhz, inferences_per_s)."""
    from ...boards.board import get_board
    from ..systolic.compare import dense_report
    from ..systolic.compiler import Layer, compile_layers
    from ..errors import EiegenError
    networks = networks or NETWORKS
    rows = []
    for name in boards:
        board = get_board(name)
        p = board.systolic_params()
        hz = (clocks or {}).get(name, board.design_hz("systolic"))
        for net, shapes in networks.items():
            try:
                compile_layers(1, [Layer(np.zeros(s, dtype=np.int64), 1, 0, True) for s in shapes], p)
                fits = "yes"
            except EiegenError as exc:
                fits = str(exc).split(":")[0] + ": " + str(exc).split(":", 1)[1].split("(")[0].strip()
            for b in batches:
                rep = dense_report(shapes, p.rows, p.cols, b, acc_depth=p.acc_depth,
                                   act_lanes=p.act_lanes, act_serial=p.act_serial)
                macs = b * sum(i * o for i, o in shapes)
                rows.append({"board": name, "array": f"{p.rows}x{p.cols}", "network": net, "batch": b,
                             "cycles": rep.cycles, "cycles_per_inference": rep.cycles / b,
                             "clock_mhz": hz / 1e6, "inferences_per_s": hz * b / rep.cycles,
                             "util": macs / (p.rows * p.cols * rep.cycles), "weights_fit": fits})
    return rows


def print_board_inferences(rows):
    print("\nDefault systolic board builds (cycle model x build clock; weights on chip, "
          "compute only):")
    print(f"{'board':10s} {'array':6s} {'network':30s} {'batch':>5s} {'cycles/inf':>11s} "
          f"{'MHz':>6s} {'inf/s':>10s} {'util':>6s}  weights fit")
    for r in rows:
        print(f"{r['board']:10s} {r['array']:6s} {r['network']:30s} {r['batch']:5d} "
              f"{r['cycles_per_inference']:11.0f} {r['clock_mhz']:6.1f} {r['inferences_per_s']:10.0f} "
              f"{r['util']:6.1%}  {r['weights_fit']}")


def run(quick=False, out_dir=Path("build/bench"), *, full=False, log=None):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda s: print(s, flush=True))
    log(f"[systolic 1/2] utilisation vs matrix size (RTL for S <= {RTL_MAX[quick]} on "
        f"{', '.join(f'{r}x{c}' for r, c in RTL_ARRAYS[full])}, cycle model and SCALE-Sim for all) ...")
    util = utilisation_sweep(quick, log, full)
    print_utilisation(util)
    log(f"\n[systolic 2/2] {int(DENSITY * 100)}%-dense layer: systolic unit vs EIE of equal multiplier count ...")
    sparse = sparse_vs_eie(quick, log)
    print_sparse(sparse)
    boards = board_inferences()
    print_board_inferences(boards)
    path = plot(util, sparse, out_dir)
    print(f"\nplot: {path}")
    (out_dir / "systolic.json").write_text(json.dumps({"quick": quick, "utilisation": util,
                                                        "sparse_vs_eie": sparse,
                                                        "board_inferences": boards}, indent=1))


# -- the systolic unit alone on a board (no host link) ----------------------------------
class UnitProbeTop(Elaboratable):
    """A board top with the systolic unit and no host link, to measure the
    unit's own logic and Fmax: the board's clock (PLL), the unit, and a
    stand-in for the link that keeps every input and output of the unit in
    use: a shift register filled from the UART's rx pin drives addr, wdata,
    we, re, start, abort and resume from registers (as the link does), and
    rdata, rvalid, addr_ok, word_bytes, busy, done and error go into a
    register (as the link takes them) and are folded onto the tx pin."""

    def __init__(self, board, params, sync_hz):
        from ...boards.clocking import BoardClock
        self.board, self.params = board, params
        self.clock = BoardClock(board.family, board.clock, board.clock_hz, sync_hz)
        self.sync_hz = self.clock.f_out

    def elaborate(self, platform):
        from amaranth import Module, Signal, ClockDomain, Cat
        from amaranth.lib import io
        from ...hw.systolic.top import SystolicUnit
        m = Module()
        m.domains.sync = ClockDomain("sync")
        m.submodules.clock = self.clock
        m.submodules.unit = unit = SystolicUnit(self.params)
        pins = [sub.name for sub in platform.lookup(self.board.uart, 0).ios]
        uart = platform.request(self.board.uart, 0, dir={name: "-" for name in pins})
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        width = 32 + 64 + 4
        sr = Signal(width)
        count = Signal(7)
        m.d.sync += [sr.eq(Cat(rx.i, sr[:-1])), count.eq(count + 1)]
        req = Signal(width)
        with m.If(count == 0):
            m.d.sync += req.eq(sr)
        m.d.sync += [unit.bus.addr.eq(req[:32]), unit.bus.wdata.eq(req[32:96]),
                     unit.bus.we.eq(req[96] & (count == 1)), unit.bus.re.eq(req[97] & (count == 1)),
                     unit.start.eq(req[98] & (count == 2)), unit.abort.eq(req[99] & (count == 3))]
        # the outputs into a register first (as the link takes rdata into its own),
        # folded the cycle after
        outs = Cat(unit.bus.rdata, unit.bus.rvalid, unit.bus.addr_ok, unit.bus.word_bytes,
                   unit.busy, unit.done, unit.error, unit.waiting, unit.config_ok)
        outs_q = Signal(len(outs))
        fold = Signal()
        m.d.sync += [outs_q.eq(outs), fold.eq(outs_q.xor())]
        m.d.comb += tx.o.eq(fold)
        return m


def unit_build(board_name, params=None, freq_mhz=None, out_dir=None, seed=0, progress=print):
    """Place and route the systolic unit alone (UnitProbeTop) for a board with
    the yowasp tools; returns the boards.report BuildReport (resources,
    Fmax, critical path) and writes report.txt/report.json into out_dir."""
    import os
    from ...boards.board import get_board
    from ...boards.build import board_platform, _run_script, _require_tools, tool_options
    from ...boards.report import parse_report, format_report
    from .. import toolchain
    from ..atomic import atomic_dir
    board = get_board(board_name)
    params = params or board.systolic_params()
    hz = freq_mhz * 1e6 if freq_mhz else board.design_hz("systolic")
    env = toolchain.configure(dict(os.environ))
    _require_tools(board, env)
    top = UnitProbeTop(board, params, hz)
    out_dir = Path(out_dir or f"build/boards/{board.name}-systolic-unit-{params.rows}x{params.cols}")
    platform = board_platform(board)
    kw = tool_options(board, seed)
    if progress:
        progress(f"systolic unit alone (no host link): {board.title}, {params.rows}x{params.cols}, "
                 f"clock {top.sync_hz / 1e6:.3f} MHz")
    plan = platform.build(top, name="top", do_build=False, **kw)
    with atomic_dir(out_dir) as tmp:
        plan.extract(str(tmp))
        _run_script(tmp, "top", board, env, progress,
                    failed_log=out_dir.with_name(out_dir.name + ".failed.log"))
        report = parse_report(tmp / "report.json", board)
        text = format_report(report, title=f"{board.title}: systolic unit alone (no host link), "
                             f"{params.rows}x{params.cols}")
        (tmp / "report.txt").write_text(text + "\n")
        (tmp / "top.json").unlink(missing_ok=True)
    if progress:
        progress(text)
    return report


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(prog="python -m eiegen.sw.bench.systolic",
                                 description="place and route the systolic unit without the host link")
    ap.add_argument("--board", required=True)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--cols", type=int)
    ap.add_argument("--freq", type=float, help="MHz (default: the board's systolic clock)")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    from ...boards.board import get_board
    b = get_board(a.board)
    unit_build(a.board, b.systolic_params(rows=a.rows, cols=a.cols), a.freq, a.output)
