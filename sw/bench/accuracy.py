"""Accuracy against compression rate on the digits MLP (the shape of Han's
thesis Fig. 4.9 / Deep Compression Fig. 6): pruning only, trained
quantization only, and both, each with retraining; and LeNet-300-100 through
`eiegen compress --data` beside Deep Compression's LeNet-300-100 result.

Model size ratio (compressed / dense fp32 weights; biases are the same in
every variant and left out, as in the thesis' figure; the formulas are
eiegen.sw.compress.pruned_model_bits / quantized_model_bits):
- pruning only: the non-zeros in CSC (one PE's interleaved CSC), a 32-bit
  value and a 4-bit relative row index per entry, padding entries included;
- quantization only (no pruning): a `bits`-bit index per weight plus the
  codebook of 2**bits - 1 fp32 centroids (index 0 is the reserved 0.0);
- both: 4-bit index + 4-bit relative row per entry plus the codebook.
Accuracy is the float accuracy of the (quantized) weights on the test split;
the int16 fixed-point and RTL figures of one point are `eiegen sim`'s job.

LeNet-300-100 (784-300-100-10, Deep Compression's first network) is trained
here on scikit-learn's digits upsampled to 28 x 28 (MNIST's size; MNIST
itself is not in a PyPI package of the dependencies and nothing downloads),
then compressed by the command a user runs, `eiegen compress --data` (in a
subprocess), at the paper's per-layer sparsities. Printed beside the paper's
figures (Deep Compression, ICLR 2016, Tables 1 and 2: 1070 KB -> 27 KB, 40x
with Huffman coding, top-1 error 1.64 % -> 1.58 %, 8 % / 9 % / 26 % of the
weights kept), with the wall time of each step on this machine.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ORDER = 20
TITLE = "Digits MLP: accuracy vs compression rate, pruning / quantization / both (thesis Fig. 4.9)"

SPARSITIES = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)
QUANT_BITS = (1, 2, 3, 4, 5, 6, 8)


def quant_sweep(float_model, data, bits_list, *, finetune_epochs=5, lr=1e-3, seed=0, progress=None):
    """Quantization only (no pruning): k-means to 2**b - 1 centroids, fine-tuned."""
    from .. import train as T
    from ..compress import dense_weight_bits, quantized_model_bits
    out = {"bits": list(bits_list), "accuracy": [], "size": []}
    dense = dense_weight_bits(float_model)
    for b in bits_list:
        t0 = time.perf_counter()
        cm = T.quantize_and_finetune(float_model, data, bits=b, epochs=finetune_epochs, lr=lr, seed=seed)
        out["accuracy"].append(T.accuracy(cm, data.x_test, data.y_test))
        out["size"].append(quantized_model_bits(cm, pruned=False) / dense)
        if progress is not None:
            progress(f"  {b}-bit quantization only: {out['accuracy'][-1]:.2%} "
                     f"({time.perf_counter() - t0:.1f} s)")
    return out


LENET_SIZES = (784, 300, 100, 10)
LENET_SPARSITY = {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}     # 8 %, 9 %, 26 % kept (paper, Table 2)
PAPER_LENET = {"ratio": 40.0, "kb_before": 1070, "kb_after": 27, "error_before": 1.64, "error_after": 1.58,
               "kept": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}}
# (float training epochs, pruning steps, retraining epochs per step, fine-tuning epochs)
LENET_EPOCHS = {False: (30, 3, 10, 10), True: (8, 2, 2, 2)}


def digits_28x28(seed=0):
    """scikit-learn's digits (train/test split of train.load_digits_dataset)
    upsampled bilinearly from 8 x 8 to 28 x 28 pixels in [0, 1]: 784 features,
    LeNet-300-100's input."""
    from scipy.ndimage import zoom
    from .. import train as T
    d = T.load_digits_dataset(seed=seed)

    def up(x):
        return np.clip(zoom(x.reshape(-1, 8, 8), (1, 3.5, 3.5), order=1), 0.0, 1.0).reshape(len(x), -1)
    return T.Dataset("digits 28x28", up(d.x_train), d.y_train, up(d.x_test), d.y_test)


def lenet(out_dir, quick=False, seed=0, progress=print):
    """Train LeNet-300-100 on the 28 x 28 digits, run `eiegen compress --data`
    on it at the paper's sparsities, and return the figures (JSON-able)."""
    from threadpoolctl import threadpool_limits
    from .. import train as T
    from ..model import save_float_model
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ep, steps, retrain, finetune = LENET_EPOCHS[quick]
    t0 = time.perf_counter()
    data = digits_28x28(seed=0)
    model = T.init_mlp(list(LENET_SIZES), seed=seed)
    with threadpool_limits(1):
        est_train = T.estimate_seconds(model, data, ep, seed=seed)
        est_comp = T.estimate_seconds(model, data, steps * retrain + finetune, seed=seed)
    progress(f"LeNet-300-100 on the digits upsampled to 28 x 28 ({len(data.y_train)} training, "
             f"{len(data.y_test)} test samples): training {ep} epochs (about {est_train:.0f} s), then "
             f"`eiegen compress --data` with {steps} x {retrain} retraining and {finetune} fine-tuning "
             f"epochs (about {est_comp + 5:.0f} s) ...")
    with threadpool_limits(1):
        model = T.train(model, data, epochs=ep, lr=1e-3, weight_decay=1e-3, seed=seed, progress=progress,
                        label="  train LeNet-300-100")
    t_train = time.perf_counter() - t0
    save_float_model(model, out_dir / "lenet300_float.npz")
    np.savez(out_dir / "digits28.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
             y_test=data.y_test)
    sp = ",".join(f"{k}={v}" for k, v in LENET_SPARSITY.items())
    cmd = [sys.executable, "-m", "eiegen.sw.cli", "compress", str(out_dir / "lenet300_float.npz"),
           "-o", str(out_dir / "lenet300_compressed.npz"), "--data", str(out_dir / "digits28.npz"),
           "--sparsity", sp, "--pes", "1", "--prune-steps", str(steps), "--epochs", str(retrain),
           "--finetune-epochs", str(finetune), "--seed", str(seed), "--max-loss", "100",
           "--report-json", str(out_dir / "lenet300_compress.json")]
    progress("$ eiegen " + " ".join(cmd[3:]))
    t1 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    t_comp = time.perf_counter() - t1
    print(r.stdout, end="", flush=True)
    if r.returncode != 0:
        raise RuntimeError(f"eiegen compress exited with status {r.returncode}")
    rep = json.loads((out_dir / "lenet300_compress.json").read_text())
    a, t = rep["accuracy"], rep["total"]
    return {"network": "-".join(map(str, LENET_SIZES)), "data": data.name,
            "train_samples": int(len(data.y_train)), "test_samples": int(len(data.y_test)),
            "sparsity": LENET_SPARSITY, "epochs": {"train": ep, "prune_steps": steps, "retrain": retrain,
                                                   "finetune": finetune},
            "kept": {l["name"]: l["density"] for l in rep["layers"]}, "density": t["density"],
            "ratio": t["ratio"], "ratio_huffman": t["ratio_huffman"],
            "bytes": t["compressed_bytes"], "bytes_huffman": t["compressed_bytes_huffman"],
            "dense_bytes": t["dense_bytes"], "accuracy": a, "seconds": {"train": t_train, "compress": t_comp},
            "paper": PAPER_LENET, "quick": quick}


def lenet_table(r):
    a, p = r["accuracy"], r["paper"]
    final = a["int16"] if a["int16"] is not None else a["quantized"]
    kept = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["kept"].items())
    pk = ", ".join(f"{k} {100 * v:.0f}%" for k, v in p["kept"].items())
    rows = [
        ("weights kept", f"{100 * r['density']:.1f}% ({kept})", f"8% ({pk})"),
        ("model size", f"{r['dense_bytes'] / 1000:.0f} KB -> {r['bytes_huffman'] / 1000:.1f} KB Huffman "
                       f"({r['bytes'] / 1000:.1f} KB 4+4-bit fields)",
         f"{p['kb_before']} KB -> {p['kb_after']} KB"),
        ("compression ratio", f"{r['ratio_huffman']:.1f}x Huffman ({r['ratio']:.1f}x fixed fields)",
         f"{p['ratio']:.0f}x"),
        ("accuracy, float", f"{100 * a['float']:.2f}%", f"{100 - p['error_before']:.2f}%"),
        ("accuracy, compressed", f"{100 * final:.2f}% ({'int16 golden model' if a['int16'] is not None else 'float'})",
         f"{100 - p['error_after']:.2f}%"),
        ("accuracy change", f"{100 * (final - a['float']):+.2f} pp",
         f"{p['error_before'] - p['error_after']:+.2f} pp (no loss)"),
        ("wall time (this machine)", f"train {r['seconds']['train']:.1f} s, compress {r['seconds']['compress']:.1f} s",
         ""),
    ]
    w0 = max(len(x[0]) for x in rows)
    w1 = max(len(x[1]) for x in rows + [("", "this run", "")])
    head = (f"LeNet-300-100 ({r['network']}) on the {r['data']} ({r['train_samples']} training, "
            f"{r['test_samples']} test samples) through `eiegen compress --data` at the paper's sparsities, "
            "4-bit weights; paper: Deep Compression (ICLR 2016) Tables 1-2, LeNet-300-100 on MNIST"
            + (" [--quick: shorter training]" if r["quick"] else ""))
    lines = [head, f"{'':{w0}}  {'this run':{w1}}  paper (MNIST)"]
    lines += [f"{k:{w0}}  {v:{w1}}  {q}" for k, v, q in rows]
    return "\n".join(lines)


def fig49(quick=False, seed=0, progress=None):
    """Train the digits MLP and run the three sweeps. Returns a JSON-able dict."""
    from threadpoolctl import threadpool_limits
    from .. import train as T
    data = T.load_digits_dataset(seed=0)
    sizes = [data.n_inputs, *T.DIGITS_HIDDEN, data.n_classes]
    ep = (15, 5, 3) if quick else (40, 10, 8)
    with threadpool_limits(1):
        if progress:
            progress(f"training the {'-'.join(map(str, sizes))} digits MLP ({ep[0]} epochs) ...")
        fm = T.train(T.init_mlp(sizes, seed=seed), data, epochs=ep[0], weight_decay=1e-3, seed=seed,
                     lr=1e-3)
        sps = SPARSITIES[::2] + (SPARSITIES[-1],) if quick else SPARSITIES
        qb = (2, 4, 8) if quick else QUANT_BITS
        if progress:
            progress("pruning (+ 4-bit quantization) sweep ...")
        sw = T.sparsity_sweep(fm, data, sps, prune_steps=2 if quick else 3, retrain_epochs=ep[1],
                            finetune_epochs=ep[2], seed=seed, progress=progress)
        if progress:
            progress("quantization-only sweep ...")
        qs = quant_sweep(fm, data, qb, finetune_epochs=ep[2], seed=seed, progress=progress)
    return {"network": "-".join(map(str, sizes)), "test_samples": int(len(data.y_test)),
            "float": sw["float"], "sweep": sw, "quant": qs, "quick": quick}


def table(res):
    f = res["float"]
    lines = [f"digits MLP {res['network']}, float accuracy {f:.2%} on {res['test_samples']} test samples; "
             "size = compressed / dense fp32 weights; loss = accuracy - float (pp)",
             f"{'method':28s} {'size':>7s} {'accuracy':>9s} {'loss':>7s}"]
    sw, qs = res["sweep"], res["quant"]
    for s, sz, a in zip(sw["sparsities"], sw["size_pruned"], sw["pruned"]):
        lines.append(f"{'pruning ' + format(1 - s, '.0%') + ' kept':28s} {sz:7.2%} {a:9.2%} {100 * (a - f):+7.2f}")
    for b, sz, a in zip(qs["bits"], qs["size"], qs["accuracy"]):
        lines.append(f"{'quantization ' + str(b) + (' bit' if b == 1 else ' bits'):28s} {sz:7.2%} {a:9.2%} {100 * (a - f):+7.2f}")
    for s, sz, a in zip(sw["sparsities"], sw["size_both"], sw["both"]):
        lines.append(f"{'both, ' + format(1 - s, '.0%') + ' kept, ' + str(sw['bits']) + ' bits':28s} "
                     f"{sz:7.2%} {a:9.2%} {100 * (a - f):+7.2f}")
    return "\n".join(lines)


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    f = res["float"]
    sw, qs = res["sweep"], res["quant"]
    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    ax.plot([100 * s for s in sw["size_both"]], [100 * (a - f) for a in sw["both"]], "o-",
            label=f"pruning + quantization ({sw['bits']} bits)")
    ax.plot([100 * s for s in sw["size_pruned"]], [100 * (a - f) for a in sw["pruned"]], "s-",
            label="pruning only")
    ax.plot([100 * s for s in qs["size"]], [100 * (a - f) for a in qs["accuracy"]], "^-",
            label="quantization only")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    from ..plotting import percent_ticks
    percent_ticks(ax, [100 * v for v in sw["size_both"] + sw["size_pruned"] + qs["size"]])
    ax.set_xlabel("model size ratio after compression (% of fp32 weights)")
    ax.set_ylabel("accuracy loss (percentage points)")
    ax.set_ylim(max(-20, min(ax.get_ylim()[0], -5)), 2)
    ax.set_title(f"Digits MLP {res['network']} (cf. thesis Fig. 4.9)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(quick=False, out_dir=Path("build/bench"), full=False):
    """Fig. 4.9 sweeps (about 30 s), then LeNet-300-100 through `eiegen
    compress --data` (about 50 s; shorter training with quick). Both run in
    every mode: `full` (the bench command's --full) adds nothing here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    res = fig49(quick, progress=lambda s: print(s, flush=True))
    print(table(res))
    path = plot(res, out_dir / "accuracy_vs_compression.png")
    print(f"\nplot: {path} ({time.perf_counter() - t0:.1f} s)\n", flush=True)
    res["lenet"] = lenet(out_dir / "lenet300", quick=quick, progress=lambda s: print(s, flush=True))
    print(lenet_table(res["lenet"]))
    (out_dir / "accuracy.json").write_text(json.dumps(res, indent=1) + "\n")
    return res
