"""Deep Compression benchmark (issue 2): compress + pack one 9216 x 4096 layer
(the size of AlexNet's fc6, EIE's Alex-6) to 9 % density, stage by stage, and
our 1-D k-means beside scikit-learn's KMeans on the same surviving weights,
same k (15), same linear initialisation, n_init=1: time, ratio, and quality
(inertia and mean squared error of both, largest centroid difference)."""

import json
import os
import time

import numpy as np

ORDER = 20
TITLE = "Deep Compression: compress+pack a 9216x4096 layer; 1-D k-means vs scikit-learn KMeans"

SHAPE = (9216, 4096)          # AlexNet fc6 / EIE's Alex-6
QUICK_SHAPE = (2304, 1024)
DENSITY = 0.09
PES = 64
BITS = 4
SKLEARN_FULL_LIMIT = 90.0     # s: run sklearn on all points only if the estimate is below this
#: seconds on an idle 2-core machine (measured there: 18 s of CPU in all, most of it
#: scikit-learn's k-means): (compress + pack, k-means comparison), (quick, full size)
COMPUTE_SECONDS = {"pipeline": (2, 8), "kmeans": (5, 25)}


def estimate(quick=False):
    q = 0 if quick else 1
    return [("compress + pack stage by stage", COMPUTE_SECONDS["pipeline"][q]),
            ("k-means: ours beside scikit-learn's", COMPUTE_SECONDS["kmeans"][q])]


def _layer(shape, seed=0):
    """Gaussian weights with He scaling (what a trained fc layer roughly looks like)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / shape[1]))
    return w


def _timed(log, what, fn):
    """(result, (wall seconds, CPU seconds of this process))."""
    log(f"  {what} ...")
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    log(f"  {what}: {dt:.2f} s (CPU {dc:.2f} s)")
    return r, (dt, dc)


def _sklearn_kmeans(x, init):
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=len(init), init=init[:, None], n_init=1, tol=0.0, max_iter=300,
                algorithm="lloyd")
    t0, c0 = time.perf_counter(), time.process_time()
    km.fit(x[:, None])
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    return np.sort(km.cluster_centers_.ravel()), float(km.inertia_), int(km.n_iter_), dt, dc


def _threads():
    try:
        from threadpoolctl import threadpool_info
        n = [i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "openmp"]
        return max(n) if n else None
    except Exception:          # threadpoolctl missing or unable to inspect: not essential
        return None


def pipeline(shape, log):
    """Time every stage of compress + pack on one layer; returns rows and the artefacts."""
    from ...hw.eie.params import EIEParams
    from ..compress import compression_report, prune_balanced, prune_magnitude, quantize_layer
    from ..fit import fit_params
    from ..model import CompressedModel, FloatLayer, FloatModel
    from ..packer import pack

    w = _layer(shape)
    layer, t_load = _timed(log, "model (float64 copy, checks)", lambda: FloatLayer("fc6", w, None, True))
    model = FloatModel([layer])
    s = 1.0 - DENSITY
    pm, t_mag = _timed(log, "magnitude pruning", lambda: prune_magnitude(layer.weight, s))
    pb, t_bal = _timed(log, f"load-balance-aware pruning, {PES} PEs",
                       lambda: prune_balanced(layer.weight, s, PES))
    cl, t_q = _timed(log, f"k-means quantization ({(1 << BITS) - 1} centroids + 0)",
                     lambda: quantize_layer(FloatLayer("fc6", pb, None, True), BITS))
    cm = CompressedModel([cl])
    rep, t_rep = _timed(log, "compression report (entries, Huffman)",
                        lambda: compression_report(cm, model, PES))
    params = fit_params(cm, EIEParams(n_pes=PES, entries_per_word=8))
    im, t_pack = _timed(log, f"pack (interleaved CSC for {PES} PEs, capacity check)",
                        lambda: pack(cm, params))
    rows = [("float layer (checks, float64)", t_load), ("magnitude pruning (for comparison)", t_mag),
            (f"balanced pruning, N = {PES}", t_bal), ("k-means quantization", t_q),
            ("compression report", t_rep), ("pack", t_pack)]
    total = tuple(sum(t[i] for t in (t_load, t_bal, t_q, t_pack)) for i in (0, 1))
    return rows, total, dict(weight=layer.weight, pruned=pb, compressed=cl, report=rep, image=im)


def kmeans_compare(x, log, quick):
    """Ours and scikit-learn's on the same points; subsamples first, all points
    when the estimate allows."""
    from ..compress import kmeans_1d, linear_init
    k = (1 << BITS) - 1
    rng = np.random.default_rng(1)
    n = x.size
    sizes = [n // 100, n // 10, n]
    rows = []
    for m in sizes:
        xs = x if m == n else rng.choice(x, size=m, replace=False)
        init = linear_init(xs, k)
        t0, c0 = time.perf_counter(), time.process_time()
        ours = kmeans_1d(xs, k, init=init)
        t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
        row = {"points": int(m), "ours_s": t_ours, "ours_cpu_s": c_ours, "ours_inertia": ours.inertia,
               "ours_iter": ours.iterations, "ours_centroids": ours.centroids.tolist()}
        estimate = None
        if rows and rows[-1].get("sklearn_s") is not None:
            prev = rows[-1]
            estimate = prev["sklearn_s"] * m / prev["points"]
        if m == n and estimate is not None and (estimate > SKLEARN_FULL_LIMIT or quick):
            row["sklearn_s"] = None
            row["sklearn_estimate_s"] = estimate
            log(f"  k-means on {m} points: ours {t_ours:.3f} s; scikit-learn not run "
                f"(estimated {estimate:.0f} s from {prev['points']} points)")
        else:
            log(f"  k-means on {m} points: ours {t_ours:.3f} s; scikit-learn ... "
                + (f"(estimated {estimate:.0f} s)" if estimate else ""))
            c, inertia, it, t_sk, c_sk = _sklearn_kmeans(xs, init)
            row.update(sklearn_s=t_sk, sklearn_cpu_s=c_sk, sklearn_inertia=inertia, sklearn_iter=it,
                       sklearn_centroids=c.tolist(),
                       max_centroid_diff=float(np.abs(c - ours.centroids).max()))
            log(f"  k-means on {m} points: scikit-learn {t_sk:.2f} s")
        rows.append(row)
    return rows


def _plot(out_dir, weight, cl, krows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    nz = weight[cl.index != 0]
    a.hist(nz, bins=300, color="0.6")
    for c in cl.codebook[1:]:
        a.axvline(c, color="tab:red", lw=0.8)
    a.set_title(f"surviving weights ({nz.size} of {weight.size}) and the {len(cl.codebook) - 1} shared values")
    a.set_xlabel("weight")
    pts = [r["points"] for r in krows]
    b.loglog(pts, [r["ours_s"] for r in krows], "o-", label="eiegen kmeans_1d (sorted, prefix sums)")
    sk = [(r["points"], r["sklearn_s"]) for r in krows if r.get("sklearn_s") is not None]
    if sk:
        b.loglog(*zip(*sk), "s-", label="scikit-learn KMeans (lloyd, n_init=1)")
    est = [(r["points"], r["sklearn_estimate_s"]) for r in krows if r.get("sklearn_estimate_s")]
    if est:
        b.loglog(*zip(*est), "x", color="tab:orange", label="scikit-learn, extrapolated")
    b.set_xlabel("points")
    b.set_ylabel("seconds")
    b.set_title("1-D k-means, k = 15, same linear init")
    b.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "compress.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(quick, out_dir, *, log=None):
    if log is None:
        def log(msg):
            print(msg, flush=True)

    shape = QUICK_SHAPE if quick else SHAPE
    log(f"layer {shape[0]} x {shape[1]} (Gaussian, He-scaled), target density {DENSITY:.0%}, "
        f"{BITS}-bit codebook, N = {PES} PEs; {os.cpu_count()} CPU(s), load average "
        f"{os.getloadavg()[0]:.1f} (times grow with other work on the machine)")
    log("[compress 1/2] compress + pack, stage by stage ...")
    rows, total, art = pipeline(shape, log)
    print(f"\nCompress + pack, {shape[0]} x {shape[1]} to {DENSITY:.0%} density")
    print(f"{'stage':40s} {'wall s':>8s} {'CPU s':>8s}")
    for name, (t, c) in rows:
        print(f"{name:40s} {t:8.2f} {c:8.2f}")
    print(f"{'compress + pack (stages 1, 3, 4, 6)':40s} {total[0]:8.2f} {total[1]:8.2f}")
    print()
    print(art["report"].table())

    x = art["weight"][art["compressed"].index != 0]
    log(f"\n[compress 2/2] 1-D k-means of the {x.size} surviving weights: ours beside scikit-learn's ...")
    krows = kmeans_compare(x, log, quick)
    thr = _threads()
    print(f"\n1-D k-means of the surviving weights: k = 15, linear init, n_init = 1, run to "
          f"convergence (scikit-learn: tol = 0, OpenMP threads {thr if thr else '?'}; ours: one thread)")
    print(f"{'points':>9s} {'ours s':>8s} {'sklearn s':>10s} {'speed-up':>9s} {'CPU ours/sk':>13s} "
          f"{'ours inertia':>13s} "
          f"{'sklearn inertia':>16s} {'MSE ours':>10s} {'MSE sklearn':>12s} {'max |dc|':>9s} {'iter':>9s}")
    for r in krows:
        m = r["points"]
        if r.get("sklearn_s") is not None:
            sk = f"{r['sklearn_s']:10.2f}"
            ratio = f"{r['sklearn_s'] / r['ours_s']:8.0f}x"
            inert = f"{r['sklearn_inertia']:16.6g}"
            mse = f"{r['sklearn_inertia'] / m:12.4g}"
            dc = f"{r['max_centroid_diff']:9.1e}"
            it = f"{r['ours_iter']:>4d}/{r['sklearn_iter']:<4d}"
            cpu = f"{r['ours_cpu_s']:6.2f}/{r['sklearn_cpu_s']:<6.1f}"
        else:
            sk = f"{'~' + format(r['sklearn_estimate_s'], '.0f'):>10s}"
            ratio = f"{'~' + format(r['sklearn_estimate_s'] / r['ours_s'], '.0f') + 'x':>9s}"
            inert = f"{'not run':>16s}"
            mse = f"{'':12s}"
            dc = f"{'':9s}"
            it = f"{r['ours_iter']:>4d}/-   "
            cpu = f"{r['ours_cpu_s']:6.2f}/-     "
        print(f"{m:9d} {r['ours_s']:8.3f} {sk} {ratio} {cpu} {r['ours_inertia']:13.6g} {inert} "
              f"{r['ours_inertia'] / m:10.4g} {mse} {dc} {it}")
    if any(r.get("sklearn_s") is None for r in krows):
        print("(~: scikit-learn not run on all points; its time is extrapolated linearly from the "
              "largest subsample it ran on, labelled as such)")
    full = krows[-1]
    if full.get("sklearn_s") is not None:
        print(f"all {full['points']} points: ours {full['ours_s']:.3f} s, scikit-learn "
              f"{full['sklearn_s']:.1f} s -> {full['sklearn_s'] / full['ours_s']:.0f}x; same centroids "
              f"within {full['max_centroid_diff']:.1e}, inertia ratio "
              f"{full['ours_inertia'] / full['sklearn_inertia']:.9f}")
    print("(wall s: elapsed time; CPU s: CPU time of this process, all threads -- on a shared "
          "machine wall time includes waiting for the CPU)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    plot = _plot(out_dir, art["weight"], art["compressed"], krows)
    res = {"shape": list(shape), "density": DENSITY, "pes": PES, "bits": BITS,
           "stages": {n: {"wall_s": t, "cpu_s": c} for n, (t, c) in rows},
           "compress_pack_s": total[0], "compress_pack_cpu_s": total[1], "kmeans": krows,
           "report": art["report"].to_dict()}
    (out_dir / "compress.json").write_text(json.dumps(res, indent=1) + "\n")
    print(f"plot: {plot}; numbers: {out_dir / 'compress.json'}")
