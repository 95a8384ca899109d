"""`eiegen compress`: a float model -> a compressed model (.npz) and its report."""

import json
import math
import sys
from pathlib import Path

from ...hw.eie.params import EIEParams
from ..atomic import atomic_file
from ..errors import EiegenError
from ..model import CompressedModel, load_model, save_compressed_model

NAME = "compress"
HELP = "Deep Compression of a float model: prune, retrain, quantize (weight sharing), report"
DESCRIPTION = """Deep Compression of a fully connected float model, written as a compressed
model: per layer a codebook (entry 0 = 0.0) and a matrix of codebook indices
(docs/compression.md).

With --data DATA.npz it runs the whole method: iterative pruning (magnitude,
or load-balance-aware with --balance) with masked retraining, k-means weight
sharing with centroid fine-tuning, and measures the accuracy on the data's
test split in float after each stage and in int16 fixed point as the EIE
hardware computes it (the golden model). It exits with status 1, writing
nothing, when the final accuracy is more than --max-loss points below float.
DATA.npz holds x_train, y_train, x_test, y_test (integer labels 0, 1, ...),
or x and y, split here 80/20 class by class with a fixed seed.
--sparsity auto chooses each layer's sparsity by a sensitivity scan.

Without --data the trained weights are pruned and quantized as they are (no
retraining) and the accuracy is unknown.

The model is a float .npz (<layer>.weight, optional <layer>.bias and
<layer>.relu), an ONNX file (Gemm or MatMul + Add layers, Relu, Flatten at
the input, optional final Softmax) or a PyTorch state_dict (.pt/.pth, needs
torch). Prints the compression report (density, bits per weight fixed and
with Huffman coding, entries per PE for --pes PEs, bytes and ratio against
fp32) and the accuracy table.

examples:
  eiegen compress model.onnx -o build/model-c.npz --data data.npz
  eiegen compress model.npz -o c.npz --data data.npz --sparsity auto --pes 4 --balance
  eiegen compress model.npz -o c.npz --sparsity fc1=0.92,fc2=0.91,fc3=0.75 --bits 4
  eiegen compress model.npz -o c.npz --sparsity 0.9 --pes 64 --balance --report-json r.json"""

_DEFAULTS = EIEParams()
# retraining options: (attribute, option, default); None on the command line means "not given"
_RETRAIN = (("prune_steps", "--prune-steps", 3), ("epochs", "--epochs", 10),
            ("finetune_epochs", "--finetune-epochs", 10), ("lr", "--lr", 1e-3), ("seed", "--seed", 0),
            ("max_loss", "--max-loss", 1.0), ("scan_loss", "--scan-loss", None),
            ("frac", "--frac", _DEFAULTS.frac))


def add_arguments(p):
    p.add_argument("model", help="float model: .npz, .onnx or PyTorch state_dict (.pt/.pth)")
    p.add_argument("-o", "--output", required=True, help="compressed model to write (.npz)")
    p.add_argument("--sparsity", default="0.9",
                   help="fraction of weights pruned, in [0, 1): one value for every layer, one per "
                        "layer comma-separated (0.92,0.91,0.75), name=value pairs naming every "
                        "layer (fc1=0.92,fc2=0.91), or auto (with --data: per-layer sensitivity "
                        "scan, see --scan-loss) (default %(default)s)")
    p.add_argument("--bits", type=int, default=4,
                   help="codebook index bits, 1..8: 2**bits - 1 shared weights plus 0.0; EIE "
                        "hardware takes at most 4 (default %(default)s)")
    p.add_argument("--pes", type=int, default=_DEFAULTS.n_pes,
                   help="number of PEs N, for --balance and the report's per-PE figures "
                        "(default %(default)s)")
    p.add_argument("--balance", action="store_true",
                   help="load-balance-aware pruning: in every column, every PE keeps the same "
                        "number of non-zeros (row i is on PE i mod N)")
    p.add_argument("--group", type=int, default=1, metavar="G",
                   help="with --balance: columns per balanced group; every PE's share of each "
                        "group of G consecutive columns keeps the same count (default %(default)s)")
    p.add_argument("--report-json", metavar="PATH", help="also write the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    r = p.add_argument_group("retraining and accuracy (need --data)")
    r.add_argument("--data", metavar="DATA.npz",
                   help="data set: x_train, y_train, x_test, y_test (integer labels 0, 1, ...), or x "
                        "and y (split 80/20 by class, fixed seed). Retrains and reports accuracy")
    r.add_argument("--prune-steps", type=int, metavar="N",
                   help="iterative pruning steps, each followed by masked retraining (default 3)")
    r.add_argument("--epochs", type=int, metavar="E",
                   help="masked retraining epochs after each pruning step (default 10)")
    r.add_argument("--finetune-epochs", type=int, metavar="E",
                   help="centroid fine-tuning epochs after weight sharing (default 10)")
    r.add_argument("--lr", type=float, help="learning rate of retraining and fine-tuning (default 0.001)")
    r.add_argument("--seed", type=int, help="random seed of the batch order (default 0)")
    r.add_argument("--max-loss", type=float, metavar="PP",
                   help="largest accuracy loss against float, percentage points, of the final "
                        "(int16) model; more exits with status 1 and writes nothing (default 1.0)")
    r.add_argument("--scan-loss", type=float, metavar="PP",
                   help="with --sparsity auto: the loss budget of each layer in the sensitivity scan, "
                        "percentage points, before retraining (default: --max-loss); retraining "
                        "recovers part of it, so a larger budget can still pass --max-loss")
    r.add_argument("--frac", type=int,
                   help=f"fractional bits of the int16 fixed point of the accuracy check "
                        f"(default {_DEFAULTS.frac}, as `eiegen pack`)")


def _options(args):
    """The retraining options with defaults filled in; refuses them without --data."""
    given = [opt for attr, opt, _ in _RETRAIN if getattr(args, attr) is not None]
    auto = str(args.sparsity).strip().lower() == "auto"
    if not args.data:
        if auto:
            raise EiegenError("--sparsity auto chooses each layer's sparsity by a sensitivity scan of "
                              "the data; add --data DATA.npz")
        if given:
            raise EiegenError(f"{given[0]} applies to retraining and the accuracy check; add --data DATA.npz")
    o = {attr: (getattr(args, attr) if getattr(args, attr) is not None else default)
         for attr, _, default in _RETRAIN}
    if o["prune_steps"] < 1:
        raise EiegenError(f"--prune-steps must be at least 1, got {o['prune_steps']}")
    for attr, opt in (("epochs", "--epochs"), ("finetune_epochs", "--finetune-epochs")):
        if o[attr] < 0:
            raise EiegenError(f"{opt} must be at least 0, got {o[attr]}")
    if not (math.isfinite(o["lr"]) and o["lr"] > 0):
        raise EiegenError(f"--lr must be a positive number, got {o['lr']}")
    if not (math.isfinite(o["max_loss"]) and o["max_loss"] >= 0):
        raise EiegenError(f"--max-loss must be a number of percentage points >= 0, got {o['max_loss']}")
    if o["scan_loss"] is None:
        o["scan_loss"] = o["max_loss"]
    elif not auto:
        raise EiegenError("--scan-loss is the budget of the sensitivity scan; use it with --sparsity auto")
    elif not (math.isfinite(o["scan_loss"]) and o["scan_loss"] >= 0):
        raise EiegenError(f"--scan-loss must be a number of percentage points >= 0, got {o['scan_loss']}")
    if not 0 <= o["frac"] <= 15:
        raise EiegenError(f"--frac must be from 0 to 15, got {o['frac']}")
    o["auto"] = auto
    return o


def run(args):
    from threadpoolctl import threadpool_limits
    from .. import train as T
    from ..compress import compress_model, compression_report, parse_sparsity
    out = Path(args.output)
    if out.suffix.lower() != ".npz":
        raise EiegenError(f"output '{out}': a compressed model is written as .npz")
    if out.exists() and out.is_dir():
        raise EiegenError(f"output '{out}' is a directory")
    if args.report_json and Path(args.report_json).is_dir():
        raise EiegenError(f"--report-json '{args.report_json}' is a directory")
    if args.pes < 1:
        raise EiegenError(f"--pes must be at least 1, got {args.pes}")
    if args.group < 1:
        raise EiegenError(f"--group must be at least 1, got {args.group}")
    if args.group != 1 and not args.balance:
        raise EiegenError("--group applies to load-balance-aware pruning; add --balance")
    if not 1 <= args.bits <= 8:
        raise EiegenError(f"--bits must be from 1 to 8, got {args.bits}")
    o = _options(args)
    model = load_model(args.model)
    if isinstance(model, CompressedModel):
        raise EiegenError(f"{args.model}: the model is already compressed")
    data = None
    if args.data:
        data = T.load_dataset_npz(args.data, require_train=True)
        T.check_data_for_model(data, model)
    names = [l.name for l in model.layers]
    progress = None if args.quiet else (lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    doc = {}
    with threadpool_limits(1):     # small matrices: BLAS threads only contend on shared cores
        if o["auto"]:
            scan = T.sensitivity_scan(model, data, max_loss_pp=o["scan_loss"], pes=args.pes,
                                      balance=args.balance, group=args.group, progress=progress)
            print(sensitivity_table(scan))
            sparsity = dict(scan["chosen"])
            doc["sensitivity"] = scan
        else:
            sparsity = parse_sparsity(args.sparsity, names)
        if data is None:
            compressed = compress_model(model, sparsity=sparsity, bits=args.bits, pes=args.pes,
                                        balance=args.balance, group=args.group, progress=progress)
        else:
            compressed, accuracy = _retrain(model, data, sparsity, args, o, progress)
            doc["accuracy"] = accuracy
    report = compression_report(compressed, model, args.pes)
    doc = {**report.to_dict(), **doc,
           "sparsity": {l.name: l.sparsity for l in compressed.layers}, "retrained": data is not None}
    print(report.table())
    if data is None:
        print("accuracy unknown: no retraining was done (the weights were pruned and quantized as "
              "trained); give --data DATA.npz to retrain and measure it")
    else:
        print(accuracy_table(doc["accuracy"]))
        if not doc["accuracy"]["ok"]:
            a = doc["accuracy"]
            print(f"eiegen compress: the compressed model ({a['final']}) is {a['loss_pp']:.2f} pp below "
                  f"float, more than --max-loss {o['max_loss']:g}; nothing written (lower --sparsity, "
                  "retrain longer with --epochs, or allow more with --max-loss)", file=sys.stderr)
            return 1
    _write(compressed, out, args.report_json, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}" + (f" and {args.report_json}" if args.report_json else ""))
    return 0


def _retrain(model, data, sparsity, args, o, progress):
    """Deep Compression with retraining (eiegen.sw.train.deep_compress) and the
    accuracy of every stage on the test split."""
    from .. import train as T
    x, y = data.x_test, data.y_test
    if progress is not None:
        n_ep = o["prune_steps"] * o["epochs"] + o["finetune_epochs"]
        est = T.estimate_seconds(model, data, n_ep, seed=o["seed"])
        progress(f"retraining: {o['prune_steps']} pruning step(s) x {o['epochs']} epochs + "
                 f"{o['finetune_epochs']} centroid fine-tuning epochs on {len(data.y_train)} samples, "
                 f"about {est:.0f} s")
        limit = 2 ** (15 - o["frac"])
        if max(abs(float(x.min())), abs(float(x.max()))) >= limit:
            progress(f"warning: inputs reach {max(abs(float(x.min())), abs(float(x.max()))):g}, beyond the "
                     f"int16 range with {o['frac']} fractional bits (+-{limit}): they saturate in the int16 "
                     "figure (scale the inputs or lower --frac)")
    compressed, pruned = T.deep_compress(
        model, data, sparsity, bits=args.bits, pes=args.pes, balance=args.balance, group=args.group,
        prune_steps=o["prune_steps"], retrain_epochs=o["epochs"], finetune_epochs=o["finetune_epochs"],
        lr=o["lr"], seed=o["seed"], progress=progress)
    acc = {"split": "test", "samples": int(len(y)), "data": data.name,
           "float": T.accuracy(model, x, y), "pruned": T.accuracy(pruned, x, y),
           "quantized": T.accuracy(compressed, x, y), "int16": None, "frac": o["frac"]}
    if all(len(l.codebook) <= 16 for l in compressed.layers):
        acc["int16"] = T.golden_accuracy(compressed, x, y, frac=o["frac"], acc_width=_DEFAULTS.acc_width)
    final = acc["int16"] if acc["int16"] is not None else acc["quantized"]
    acc["final"] = "int16" if acc["int16"] is not None else "pruned + quantized, float"
    acc["loss_pp"] = 100.0 * (acc["float"] - final)
    acc["max_loss_pp"] = o["max_loss"]
    acc["ok"] = acc["loss_pp"] <= o["max_loss"] + 1e-9
    acc["retraining"] = {k: o[k] for k in ("prune_steps", "epochs", "finetune_epochs", "lr", "seed")}
    return compressed, acc


def accuracy_table(a):
    """The accuracy columns: float, pruned (+ retrained), pruned + quantized
    (+ fine-tuned), int16 fixed point (golden model), and the change."""
    head = ["accuracy", "float", "pruned", "pruned+quantized", "int16 fixed point", "change vs float"]
    pct = [f"{100 * v:.2f}%" if v is not None else "n/a (> 16 codebook entries)"
           for v in (a["float"], a["pruned"], a["quantized"], a["int16"])]
    change = (f"{-a['loss_pp']:+.2f} pp (limit -{a['max_loss_pp']:g} pp: "
              f"{'ok' if a['ok'] else 'EXCEEDED'})").replace("+0.00 pp", "0.00 pp").replace("-0.00 pp", "0.00 pp")
    row = [f"test split, {a['samples']} samples"] + pct + [change]
    w = [max(len(h), len(c)) for h, c in zip(head, row)]
    fmt = lambda r: "  ".join(c.ljust(n) if i == 0 else c.rjust(n) for i, (c, n) in enumerate(zip(r, w)))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * n for n in w]), fmt(row)])


def sensitivity_table(scan):
    """The scan: accuracy change (pp) per layer and candidate sparsity; * = chosen."""
    base, cands = scan["float"], scan["candidates"]
    head = ["layer"] + [f"{c:g}" for c in cands] + ["chosen"]
    rows = []
    for name, accs in scan["accuracy"].items():
        chosen = scan["chosen"][name]
        cells = [f"{100 * (a - base):+.1f}".replace("+0.0", "0.0").replace("-0.0", "0.0")
                 + ("*" if c == chosen else " ") for c, a in zip(cands, accs)]
        rows.append([name] + cells + [f"{chosen:g}"])
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.ljust(n) if i == 0 else c.rjust(n) for i, (c, n) in enumerate(zip(r, w)))  # noqa: E731
    return "\n".join([f"sensitivity scan: accuracy change (pp) with one layer pruned alone to each sparsity, "
                      f"no retraining, on the training split ({scan['samples']} samples, "
                      f"{100 * base:.2f}% unpruned); * = chosen: the largest within "
                      f"{scan['max_loss_pp']:g} pp", fmt(head)] + [fmt(r) for r in rows])


def _write(compressed, out, report_json, report_text):
    if report_json:
        # the report first: if the model cannot be written, remove it again
        with atomic_file(report_json, "w") as f:
            f.write(report_text)
        try:
            save_compressed_model(compressed, out)
        except BaseException:
            Path(report_json).unlink(missing_ok=True)
            raise
    else:
        save_compressed_model(compressed, out)
