"""Systolic-unit benchmarks (issue 4): utilisation against matrix size on
4x4, 8x8 and 16x16 arrays (RTL measurements beside the cycle model and
SCALE-Sim's analytic formula), and a 10 %-dense layer on the systolic unit
(run dense) against an EIE array of as many multipliers."""

import json
from pathlib import Path

import numpy as np

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


def utilisation_sweep(quick, log):
    from ...sim.systolic_cycles import scalesim_ws_cycles, utilisation
    from ..systolic import Layer, compile_layers, quant_from_scale, rtl
    from ..systolic.compare import dense_report
    rng = np.random.default_rng(4)
    sizes = SIZES[:-2] if quick else SIZES
    rows = []
    for R, C in ARRAYS:
        p = _rtl_params(R, C)
        rtl_sizes = [s for s in sizes if s <= RTL_MAX[quick]]
        cases = []
        for s in rtl_sizes:
            w = rng.integers(-128, 128, (s, s))
            x = rng.integers(-128, 128, (s, s))
            mult, shift = quant_from_scale(1.0 / (np.sqrt(s) * 128), p)
            cases.append((compile_layers(s, [Layer(w, mult, shift, True)], p), x))
        log(f"  {R}x{C}: building the Verilator model (cached) and running S = "
            f"{', '.join(map(str, rtl_sizes))} on it ...")
        built = rtl.build(p, "verilator")
        results, stats = rtl.run_many(built, cases)
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


def run(quick=False, out_dir=Path("build/bench")):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = lambda s: print(s, flush=True)
    log("utilisation vs matrix size (RTL for S <= "
        f"{RTL_MAX[quick]}, cycle model and SCALE-Sim for all) ...")
    util = utilisation_sweep(quick, log)
    print_utilisation(util)
    log(f"\n{int(DENSITY * 100)}%-dense layer: systolic unit vs EIE of equal multiplier count ...")
    sparse = sparse_vs_eie(quick, log)
    print_sparse(sparse)
    path = plot(util, sparse, out_dir)
    print(f"\nplot: {path}")
    (out_dir / "systolic.json").write_text(json.dumps({"quick": quick, "utilisation": util,
                                                        "sparse_vs_eie": sparse}, indent=1))
