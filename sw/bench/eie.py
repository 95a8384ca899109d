"""EIE benchmarks (issue 3): simulator speed, load efficiency against FIFO
depth, speed-up against the number of PEs, on the EIE paper's layers.

Default (`make bench`): simulated cycles per second of the harness at N = 4,
Verilator beside Icarus (RTL counters checked against the cycle model), and
the FIFO-depth and PE-count sweeps of the cycle model over the paper's
full-size layers. `--full` adds the simulator speed at N = 4 and 8 on a
larger layer and the sweeps measured on the RTL (eight (N, FIFO depth)
points, each held to the cycle model).

The default simulator-speed run uses the memory geometry of the regression
tests (tests/hw/eie/test_array.py GEOMETRY), so its build is the one `make
test` already made and cached; the layer is scaled to fit it (a few hundred
cycles per input, so cocotb's per-input overhead weighs on both simulators'
rates) and the run takes a batch of inputs. The RTL sweep (--full) uses one
larger geometry for all its points (SWEEP_GEOMETRY: Alex-7 at 1/32 fits one
PE, Alex-8 at 1/8 fits four), each point a build of its own, the FIFO-depth
sweep at N = 8 (builds grow with N x activation depth: a 16-PE build of this
geometry takes half an hour on a loaded 2-core machine); --full also
measures the speed on Alex-8 at 1/8 (over a thousand cycles per input) with
the sweep's N = 4 and N = 8 builds.
"""

import json
import time
from pathlib import Path

import numpy as np

ORDER = 30
TITLE = "EIE array: simulator speed, load efficiency vs FIFO depth, speed-up vs PEs"

FIFO_DEPTHS = [1, 2, 3, 4, 6, 8, 12, 16]
PE_COUNTS = [1, 2, 4, 8, 16, 32, 64]

#: the memories of the speed runs: the regression's (tests/hw/eie/test_array.py)
RTL_GEOMETRY = dict(spmat_depth=1024, ptr_depth=256, bias_depth=256, act_depth=64, max_layers=4)
#: the memories of every RTL-sweep point (--full)
SWEEP_GEOMETRY = dict(entries_per_word=8, spmat_depth=1024, ptr_depth=512, bias_depth=128,
                      act_depth=128, max_layers=1)
#: the speed runs: (geometry, N, Alex-8 scale (quick, full), inputs per simulator (quick, full));
#: the --full ones reuse the RTL sweep's builds
SPEED_RUNS = {
    False: [("regression", 4, (0.05, 0.06), {"verilator": (100, 300), "icarus": (10, 30)})],
    True: [("sweep", 4, (0.0625, 0.125), {"verilator": (20, 100), "icarus": (2, 10)}),
           ("sweep", 8, (0.0625, 0.125), {"verilator": (20, 100), "icarus": (2, 10)})],
}
#: (quick, full) scale of Alex-7 for the RTL sweep (fits SWEEP_GEOMETRY at N = 1)
SWEEP_SCALE = (1 / 64, 1 / 32)

#: seconds of the steps' compute without simulator builds, (quick, full-size),
#: from CPU times measured on the development machine (2 cores)
COMPUTE_SECONDS = {
    "speed": {False: (10, 40), True: (20, 80)},    # by --full: (quick, full size)
    "rtl_sweep": (30, 60),
    "fifo_sweep": (1, 8),
    "pe_sweep": (8, 60),
}
BUILD_SECONDS = {"verilator": 150, "icarus": 10}    # first build of one array, without history


def rtl_params(n_pes, fifo_depth):
    """The parameters of a speed run (the regression's geometry)."""
    from ...hw.eie.params import EIEParams
    return EIEParams(n_pes=n_pes, fifo_depth=fifo_depth, **RTL_GEOMETRY)


def sweep_params(n_pes, fifo_depth):
    """The parameters of an RTL-sweep point."""
    from ...hw.eie.params import EIEParams
    return EIEParams(n_pes=n_pes, fifo_depth=fifo_depth, **SWEEP_GEOMETRY)


def rtl_points(quick):
    """(N, FIFO depth) of the RTL sweep (--full)."""
    points = [(8, d) for d in ((1, 2, 8) if quick else (1, 2, 4, 8, 16))]
    points += [(n, 8) for n in ((1, 4) if quick else (1, 2, 4, 8)) if (n, 8) not in points]
    return points


def speed_runs(full):
    return SPEED_RUNS[False] + (SPEED_RUNS[True] if full else [])


def _speed_params(geometry, n):
    return (rtl_params if geometry == "regression" else sweep_params)(n, 8)


def builds(quick, full):
    """The simulator builds a run needs: [(EIEParams, simulator)]."""
    from ..toolchain import have_icarus
    out = []
    for geometry, n, _, _ in speed_runs(full):
        out.append((_speed_params(geometry, n), "verilator"))
        if have_icarus():
            out.append((_speed_params(geometry, n), "icarus"))
    if full:
        out += [(sweep_params(n, d), "verilator") for n, d in rtl_points(quick)]
    seen, unique = set(), []
    for p, sim in out:
        if (p, sim) not in seen:
            seen.add((p, sim))
            unique.append((p, sim))
    return unique


def estimate(quick=False, full=False):
    """[(step, seconds)] for a run on an idle machine: the compute measured on
    the development machine plus every simulator build not yet cached (at the
    time the last build of its kind, N and activation depth, took on this
    machine, or BUILD_SECONDS)."""
    from ...sim import eie_harness
    q = 0 if quick else 1
    steps = []
    todo = [(p, sim) for p, sim in builds(quick, full) if not eie_harness.is_built(p, sim)]
    for sim in ("verilator", "icarus"):
        mine = [p for p, s in todo if s == sim]
        if mine:
            last = [eie_harness.last_build_seconds(p, sim) for p in mine]
            total = sum(max(t, BUILD_SECONDS[sim] / 2) if t else BUILD_SECONDS[sim] for t in last)
            steps.append((f"{len(mine)} {sim} build(s) not cached", total))
    steps.append(("simulator speed", COMPUTE_SECONDS["speed"][full][q]))
    if full:
        steps.append(("RTL sweep", COMPUTE_SECONDS["rtl_sweep"][q]))
    steps.append(("FIFO-depth sweep (cycle model)", COMPUTE_SECONDS["fifo_sweep"][q]))
    steps.append(("PE-count sweep (cycle model)", COMPUTE_SECONDS["pe_sweep"][q]))
    return steps


def _pack_rtl(model, n_pes, fifo_depth=8, sweep=False):
    from ..packer import pack
    params = (sweep_params if sweep else rtl_params)(n_pes, fifo_depth)
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


def _build(params, sim, log):
    from ...sim import eie_harness
    return eie_harness.build(params, sim, progress=lambda line: log("  " + line.strip()))


def sim_speed(quick, out_dir, log, full=False):
    """Simulated cycles per wall-clock second of the cocotb harness, Verilator
    and Icarus side by side, on Alex-8 scaled to each run's memories."""
    from ...sim import eie_harness
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    from ..image import write_image
    from ..toolchain import have_icarus
    bench = next(b for b in EIE_BENCHMARKS if b.name == "Alex-8")
    q = 0 if quick else 1
    rows = []
    sims = ["verilator"] + (["icarus"] if have_icarus() else [])
    for geometry, n, scales, batches in speed_runs(full):
        scale = scales[q]
        model = make_layer(bench, seed=8, scale=scale)
        n_in = model.layers[0].shape[1]
        xs = np.stack([make_input(bench, n_in, seed=9 + k) for k in range(batches["verilator"][q])])
        image, params = _pack_rtl(model, n, sweep=geometry == "sweep")
        idir = out_dir / f"eie-speed-image-{geometry}-n{n}"
        write_image(image, idir)
        shape = model.layers[0].shape
        row = {"n_pes": n, "geometry": geometry, "layer": f"{bench.name} x{scale:g} ({shape[0]} x {shape[1]})"}
        for sim in sims:
            batch = batches[sim][q]
            x = xs[:batch]
            expect = [_model_cycles(image, v, params.fifo_depth).total_cycles for v in x]
            built = _build(params, sim, log)
            log(f"  running {row['layer']} on {n} PEs in {sim}: {batch} inputs, {sum(expect)} cycles ...")
            res = eie_harness.run(built, idir, x, test_dir=out_dir / f"eie-speed-run-{geometry}-n{n}-{sim}")
            cyc = [c["cycles"] for c in res["counters"]]
            row[sim] = {"inputs": batch, "cycles": int(sum(cyc)), "seconds": res["compute_seconds"],
                        "rate": res["sim_cycles"] / res["compute_seconds"],
                        "equal_to_model": cyc == expect}
        rows.append(row)
    print("\nSimulated cycles per wall-clock second (cocotb harness, compute phase of each input; cycles "
          "summed over each simulator's batch; wall time, so other load on the machine lowers both)")
    print(f"{'layer':26s} {'N':>3s} {'Verilator c/s':>14s} {'(cycles)':>9s} {'Icarus c/s':>12s} {'(cycles)':>9s} "
          f"{'ratio':>7s} {'RTL = model':>12s}")
    for r in rows:
        v = r["verilator"]
        i = r.get("icarus")
        irate = f"{i['rate']:12,.0f} {i['cycles']:9d}" if i else f"{'n/a':>12s} {'':9s}"
        ratio = f"{v['rate'] / i['rate']:6.1f}x" if i else "    n/a"
        equal = v["equal_to_model"] and (i is None or i["equal_to_model"])
        print(f"{r['layer']:26s} {r['n_pes']:3d} {v['rate']:14,.0f} {v['cycles']:9d} {irate} {ratio} "
              f"{str(equal):>12s}")
    if "icarus" not in sims:
        from ..toolchain import icarus_install_command
        print(f"(Icarus Verilog not installed: its column is missing; `{icarus_install_command()}`)")
    return rows


def rtl_sweep(quick, out_dir, log):
    """Load efficiency against FIFO depth (N = 8) and speed-up against N
    (FIFO depth 8) measured on the RTL (Verilator) on Alex-7 scaled down to a
    size that simulates in seconds; every point is also run through the cycle
    model, which must agree to the cycle."""
    from ...sim import eie_harness
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    from ..image import write_image
    bench = next(b for b in EIE_BENCHMARKS if b.name == "Alex-7")
    scale = SWEEP_SCALE[0 if quick else 1]
    model = make_layer(bench, seed=7, scale=scale)
    x = make_input(bench, model.layers[0].shape[1], seed=3)
    label = f"{bench.name} x{scale:g} ({model.layers[0].shape[0]} x {model.layers[0].shape[1]})"
    points = rtl_points(quick)
    rows = {}
    for k, (n, d) in enumerate(points, 1):
        image, params = _pack_rtl(model, n, fifo_depth=d, sweep=True)
        idir = out_dir / f"eie-rtl-image-n{n}"
        write_image(image, idir)
        log(f"  point {k}/{len(points)}: N={n:2d} FIFO depth {d:2d}")
        built = _build(params, "verilator", log)
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


def pe_sweep(quick, log=None):
    from ...sim.eie_benchmarks import EIE_BENCHMARKS, make_layer, make_input
    res = {}
    for k, bench in enumerate(EIE_BENCHMARKS, 1):
        if log:
            log(f"  layer {k}/{len(EIE_BENCHMARKS)}: {bench.name}")
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


def run(quick=False, out_dir=Path("build/bench"), *, full=False, log=None):
    out_dir = Path(out_dir)
    log = log or (lambda s: print(s, flush=True))
    n_steps = 4 if full else 3
    step = iter(range(1, n_steps + 1))
    t0 = time.perf_counter()

    def head(text):
        log(f"\n[eie {next(step)}/{n_steps}, {time.perf_counter() - t0:.0f} s] {text}")

    head(f"simulator speed, {len(speed_runs(full))} run(s) (Verilator beside Icarus) ...")
    speed = sim_speed(quick, out_dir, log, full=full)
    rtl = None
    if full:
        head(f"load efficiency and speed-up measured on the RTL, {len(rtl_points(quick))} points (the "
             "cycle model is held to it cycle for cycle here and in tests/hw/eie/test_array.py) ...")
        rtl = rtl_sweep(quick, out_dir, log)
    head("load efficiency vs FIFO depth on the full-size layers (64 PEs, cycle model) ...")
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
    head("speed-up vs number of PEs (FIFO depth 8, total layer cycles, cycle model) ...")
    pes = pe_sweep(quick, log)
    print(f"{'layer':9s} {'1-PE cycles':>11s} " + " ".join(f"{'N=' + str(n):>6s}" for n in PE_COUNTS[1:]))
    for name, cycles in pes.items():
        print(f"{name:9s} {cycles[0]:11d} " + " ".join(f"{cycles[0] / c:6.1f}" for c in cycles[1:]))
    print("(ideal: " + " ".join(f"{n:6d}" for n in PE_COUNTS[1:]) + ")")
    print("(above-linear points are real: with few local rows per PE a column needs fewer\n"
          " padding entries for 4-bit relative indices, so the total work shrinks with N)")
    if not full:
        print("(`eiegen bench eie --full` adds the speed at N = 4 and 8 on a larger layer and these "
              "sweeps measured on the RTL)")
    path = plot(fifo, pes, out_dir)
    print(f"\nplot: {path}")
    (out_dir / "eie.json").write_text(json.dumps(
        {"quick": quick, "full": full, "sim_speed": speed, "rtl_sweep": rtl, "fifo_depths": FIFO_DEPTHS, "load_efficiency": fifo,
         "load_efficiency_paper_organisation": paper, "load_efficiency_2026_11": before,
         "pe_counts": PE_COUNTS, "cycles_vs_pes": pes}, indent=1))
