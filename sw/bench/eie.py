"""EIE benchmarks (issue 3): simulator speed, load efficiency against FIFO
depth, speed-up against the number of PEs, on the EIE paper's layers."""

import json
import time
from pathlib import Path

import numpy as np

ORDER = 30
TITLE = "EIE array: simulator speed, load efficiency vs FIFO depth, speed-up vs PEs"

FIFO_DEPTHS = [1, 2, 3, 4, 6, 8, 12, 16]
PE_COUNTS = [1, 2, 4, 8, 16, 32, 64]


def _pack(model, n_pes, fifo_depth=8, entries_per_word=8):
    from ...hw.eie.params import EIEParams
    from ..packer import pack
    from ..commands._common import fit_params
    params = fit_params(model, EIEParams(n_pes=n_pes, fifo_depth=fifo_depth,
                                         entries_per_word=entries_per_word))
    return pack(model, params), params


def _pack_model_only(model, n_pes, entries_per_word=8):
    """For the cycle model only: no memory-depth limits (layers larger than any
    array we build, e.g. VGG-6 on one PE)."""
    from ...hw.eie.params import EIEParams
    from ..packer import pack
    params = EIEParams(n_pes=n_pes, entries_per_word=entries_per_word, spmat_depth=1 << 20,
                       ptr_depth=1 << 16, bias_depth=1 << 15, act_depth=1 << 12, max_layers=1)
    return pack(model, params, check=False)


def _model_cycles(image, x, fifo_depth):
    from ...sim.eie_cycles import simulate
    return simulate(image, x, fifo_depth=fifo_depth)


def sim_speed(quick, out_dir, log):
    """Simulated cycles per wall-clock second of the cocotb harness, Verilator
    and Icarus side by side, on Alex-8 (scaled down with --quick)."""
    from ...sim import eie_harness
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    from ..image import write_image
    from ..toolchain import have_icarus
    bench = next(b for b in EIE_BENCHMARKS if b.name == "Alex-8")
    scale = 0.25 if quick else 1.0
    model = make_layer(bench, seed=8, scale=scale)
    x = make_input(bench, model.layers[0].shape[1], seed=9)
    rows = []
    sims = ["verilator"] + (["icarus"] if have_icarus() else [])
    for n in (4, 16):
        image, params = _pack(model, n)
        idir = out_dir / f"eie-speed-image-n{n}"
        write_image(image, idir)
        expect = _model_cycles(image, x, params.fifo_depth).total_cycles
        row = {"n_pes": n, "layer": f"{bench.name}{' x0.25' if quick else ''}", "model_cycles": expect}
        for sim in sims:
            log(f"  building and running N={n} on {sim} ...")
            built = eie_harness.build(params, sim)
            res = eie_harness.run(built, idir, x, test_dir=out_dir / f"eie-speed-run-n{n}-{sim}")
            cyc = res["counters"][0]["cycles"]
            row[sim] = {"cycles": cyc, "seconds": res["compute_seconds"],
                        "rate": res["sim_cycles"] / res["compute_seconds"],
                        "equal_to_model": cyc == expect}
        rows.append(row)
    print("\nSimulated cycles per wall-clock second (cocotb harness, compute phase, no Python per cycle)")
    print(f"{'layer':14s} {'N':>3s} {'cycles':>9s} {'Verilator c/s':>14s} {'Icarus c/s':>12s} {'ratio':>7s} {'RTL = model':>12s}")
    for r in rows:
        v = r["verilator"]
        i = r.get("icarus")
        irate = f"{i['rate']:12,.0f}" if i else "         n/a"
        ratio = f"{v['rate'] / i['rate']:6.1f}x" if i else "    n/a"
        equal = v["equal_to_model"] and (i is None or i["equal_to_model"])
        print(f"{r['layer']:14s} {r['n_pes']:3d} {v['cycles']:9d} {v['rate']:14,.0f} "
              f"{irate} {ratio} {str(equal):>12s}")
    if "icarus" not in sims:
        print("(Icarus Verilog not installed: its column is missing)")
    return rows


def rtl_sweep(quick, out_dir, log):
    """Load efficiency against FIFO depth (N = 16) and speed-up against N
    (FIFO depth 8) measured on the RTL (Verilator) on Alex-7 scaled down to a
    size that simulates in seconds; every point is also run through the cycle
    model, which must agree to the cycle."""
    from ...sim import eie_harness
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    from ..image import write_image
    bench = next(b for b in EIE_BENCHMARKS if b.name == "Alex-7")
    scale = 1 / 16 if quick else 1 / 8
    model = make_layer(bench, seed=7, scale=scale)
    x = make_input(bench, model.layers[0].shape[1], seed=3)
    label = f"{bench.name} x{scale:g} ({model.layers[0].shape[0]} x {model.layers[0].shape[1]})"
    points = [(16, d) for d in ((1, 2, 8) if quick else (1, 2, 4, 8, 16))]
    points += [(n, 8) for n in ((1, 4) if quick else (1, 2, 4, 8)) if (n, 8) not in points]
    rows = {}
    for n, d in points:
        image, params = _pack(model, n, fifo_depth=d)
        idir = out_dir / f"eie-rtl-image-n{n}"
        write_image(image, idir)
        log(f"  N={n:2d} FIFO depth {d:2d}: building (first use) and running on Verilator ...")
        built = eie_harness.build(params, "verilator")
        res = eie_harness.run(built, idir, x, test_dir=out_dir / f"eie-rtl-run-n{n}-d{d}")
        rep = _model_cycles(image, x, d)
        rtl = res["counters"][0]
        fixed = rep.total_cycles - rep.compute_cycles        # setup, init, write-back
        compute = rtl["cycles"] - fixed
        ideal = -(-sum(rtl["busy"]) // n)
        rows[(n, d)] = {"n_pes": n, "fifo_depth": d, "rtl_cycles": rtl["cycles"],
                        "model_cycles": rep.total_cycles, "equal": rtl["cycles"] == rep.total_cycles
                        and list(rtl["busy"]) == [int(b) for b in rep.busy],
                        "load_efficiency": ideal / compute if compute else 1.0}
    print(f"\nMeasured on the RTL: {label}, one input of activation density {bench.act_density:g}")
    print(f"{'N':>3s} {'FIFO':>4s} {'RTL cycles':>10s} {'model':>8s} {'equal':>6s} {'load eff.':>9s} {'speed-up':>8s}")
    base = rows[(1, 8)]["rtl_cycles"]
    for (n, d), r in sorted(rows.items()):
        su = f"{base / r['rtl_cycles']:8.2f}" if d == 8 else "       -"
        print(f"{n:3d} {d:4d} {r['rtl_cycles']:10d} {r['model_cycles']:8d} {str(r['equal']):>6s} "
              f"{100 * r['load_efficiency']:8.1f}% {su}")
    print("(speed-up: against N = 1 at FIFO depth 8; load efficiency = ideal / actual compute cycles,"
          " ideal = total busy cycles / N)")
    return [dict(r) for r in rows.values()]


def fifo_sweep(quick, n_pes=64, organisation="eiegen"):
    """Load efficiency per layer and FIFO depth D on the cycle model. The
    array's queues have D + round trip slots (the broadcasts its pipeline
    holds); `organisation="paper"` runs the EIE paper's PE (queue of exactly
    D), "eiegen-2026-11" the array before its pipelining (D + 4 slots)."""
    from ...hw.eie.params import EIEParams
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    from ...sim.eie_cycles import column_entry_counts, layer_cycles, array_timing
    res = {}
    for bench in EIE_BENCHMARKS:
        model = make_layer(bench, seed=1, scale=0.25 if quick else 1.0)
        x = make_input(bench, model.layers[0].shape[1])
        image = _pack_model_only(model, n_pes)
        cols = np.flatnonzero(x)
        counts = column_entry_counts(image, 0)[:, cols]
        effs = []
        for d in FIFO_DEPTHS:
            t = array_timing(n_pes, d)
            compute, stall, busy = layer_cycles(counts, cols, image.layers[0].in_local, t, organisation)
            effs.append(float(-(-int(busy.sum()) // n_pes) / compute))
        res[bench.name] = effs
    return res


def queue_slots(n_pes, d, organisation="eiegen"):
    """Physical activation queue slots at FIFO depth d."""
    from ...sim.eie_cycles import array_timing
    if organisation == "paper":
        return d
    if organisation == "eiegen-2026-11":
        return d + 4
    return array_timing(n_pes, d).queue_slots


def pe_sweep(quick):
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    res = {}
    for bench in EIE_BENCHMARKS:
        model = make_layer(bench, seed=1, scale=0.25 if quick else 1.0)
        x = make_input(bench, model.layers[0].shape[1])
        cycles = []
        for n in PE_COUNTS:
            image = _pack_model_only(model, n)
            cycles.append(_model_cycles(image, x, 8).total_cycles)
        res[bench.name] = cycles
    return res


def plot(fifo, pes, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, effs in fifo.items():
        ax[0].plot(FIFO_DEPTHS, [100 * e for e in effs], marker="o", label=name)
    ax[0].set_xlabel("activation queue (FIFO) depth")
    ax[0].set_ylabel("load efficiency (%)")
    ax[0].set_title("Load efficiency vs FIFO depth, 64 PEs (cf. thesis Fig. 6.10)")
    ax[0].set_ylim(0, 100)
    ax[0].grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    for name, cycles in pes.items():
        ax[1].loglog(PE_COUNTS, [cycles[0] / c for c in cycles], marker="o", label=name, base=2)
    ax[1].loglog(PE_COUNTS, PE_COUNTS, "k--", label="linear", base=2)
    ax[1].set_xlabel("PEs")
    ax[1].set_ylabel("speed-up over 1 PE")
    ax[1].set_title("Speed-up vs number of PEs (cf. thesis Fig. 6.14)")
    ax[1].grid(alpha=0.3, which="both")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "eie_scaling.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(quick=False, out_dir=Path("build/bench")):
    out_dir = Path(out_dir)
    log = lambda s: print(s, flush=True)
    log("simulator speed (builds the N=4 and N=16 arrays on first use) ...")
    speed = sim_speed(quick, out_dir, log)
    log("\nload efficiency and speed-up measured on the RTL (the cycle model is held to it "
        "cycle for cycle here and in tests/hw/eie/test_array.py) ...")
    rtl = rtl_sweep(quick, out_dir, log)
    log("\nload efficiency vs FIFO depth on the full-size layers (64 PEs, cycle model) ...")
    fifo = fifo_sweep(quick)
    paper = fifo_sweep(quick, organisation="paper")
    before = fifo_sweep(quick, organisation="eiegen-2026-11")

    def table(title, res, org):
        print(title)
        print(f"{'layer':9s} " + " ".join(f"{'D=' + str(d):>6s}" for d in FIFO_DEPTHS))
        print(f"{'slots':9s} " + " ".join(f"{queue_slots(64, d, org):6d}" for d in FIFO_DEPTHS))
        for name, effs in res.items():
            print(f"{name:9s} " + " ".join(f"{100 * e:5.1f}%" for e in effs))
        mean = np.mean(list(res.values()), axis=0)
        print(f"{'mean':9s} " + " ".join(f"{100 * e:5.1f}%" for e in mean))
        return mean

    mean = table("this array (queue slots = D + the broadcast pipeline's round trip):", fifo, "eiegen")
    mean_paper = table("\nthe EIE paper's PE (pointer read after the dequeue, queue of exactly D slots; "
                       "cf. Fig. 6.10):", paper, "paper")
    k8 = FIFO_DEPTHS.index(8)
    mean_before = np.mean(list(before.values()), axis=0)
    print(f"\nbefore/after the pipelining of 2026-12 at D = 8 (mean of the nine layers): "
          f"{100 * mean_before[k8]:.1f}% -> {100 * mean[k8]:.1f}% "
          f"({100 * (mean[k8] - mean_before[k8]):+.1f} points)")
    log("\nspeed-up vs number of PEs (FIFO depth 8, total layer cycles, cycle model) ...")
    pes = pe_sweep(quick)
    print(f"{'layer':9s} {'1-PE cycles':>11s} " + " ".join(f"{'N=' + str(n):>6s}" for n in PE_COUNTS[1:]))
    for name, cycles in pes.items():
        print(f"{name:9s} {cycles[0]:11d} " + " ".join(f"{cycles[0] / c:6.1f}" for c in cycles[1:]))
    print("(ideal: " + " ".join(f"{n:6d}" for n in PE_COUNTS[1:]) + ")")
    print("(above-linear points are real: with few local rows per PE a column needs fewer\n"
          " padding entries for 4-bit relative indices, so the total work shrinks with N)")
    path = plot(fifo, pes, out_dir)
    print(f"\nplot: {path}")
    (out_dir / "eie.json").write_text(json.dumps(
        {"quick": quick, "sim_speed": speed, "rtl_sweep": rtl, "fifo_depths": FIFO_DEPTHS, "load_efficiency": fifo,
         "load_efficiency_paper_organisation": paper, "load_efficiency_2026_11": before,
         "pe_counts": PE_COUNTS, "cycles_vs_pes": pes}, indent=1))
