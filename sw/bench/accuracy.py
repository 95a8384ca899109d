"""Accuracy against compression rate on the digits MLP (the shape of Han's
thesis Fig. 4.9 / Deep Compression Fig. 6): pruning only, trained
quantization only, and both, each with retraining.

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
"""

import json
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


def run(quick=False, out_dir=Path("build/bench")):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    res = fig49(quick, progress=lambda s: print(s, flush=True))
    print(table(res))
    path = plot(res, out_dir / "accuracy_vs_compression.png")
    (out_dir / "accuracy.json").write_text(json.dumps(res, indent=1) + "\n")
    print(f"\nplot: {path}")
    return res
