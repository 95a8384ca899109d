"""`eiegen sim`: train, compress, pack and run a digits MLP on the generated EIE RTL."""

import sys
from pathlib import Path

from ..errors import EiegenError

NAME = "sim"
HELP = "end to end: train a digits MLP, Deep-Compress it, run the test set on the EIE RTL"
DESCRIPTION = """Train a small MLP on scikit-learn's digits (8 x 8 images, no download) in numpy,
compress it (pruning with retraining, 4-bit trained quantization, Huffman for
the storage report), pack it for an N-PE EIE array, and run the whole test set
through the generated Verilog in one simulator session. Prints float,
compressed (bit-exact int16 golden model) and RTL accuracy, whether the RTL
equals the golden model bit for bit, the compression ratio, cycles per
inference, load efficiency and the speed-up over the same network dense on
the systolic unit with as many multipliers. Artefacts (image, report.json,
plots) go to --out. docs/sim.md describes every step and output.

Exit status: 0 when the RTL is bit-exact and cycle-exact and the accuracy
loss is within --max-drop; 1 otherwise; 2 on bad input.

examples:
  eiegen sim                                   # what `make sim` runs
  eiegen sim --pes 4 --fifo-depth 8 --limit 100
  eiegen sim --sparsity fc1=0.9,fc2=0.85,fc3=0.6 --simulator icarus --limit 50
  eiegen sim --model build/make-sim/model_float.npz --sparsity 0.85
  eiegen sim --model mine.npz --data mydata.npz   # x_test, y_test [, x_train, y_train]"""


def add_arguments(p):
    from ..simflow import DEFAULT_HIDDEN, DEFAULT_OUT, DEFAULT_SPARSITY
    g = p.add_argument_group("model and data")
    g.add_argument("--model", help="float (.npz, .onnx, PyTorch state_dict) or compressed (.npz) model: "
                                   "skip training (and, for a compressed model, compression)")
    g.add_argument("--data", help=".npz data set with x_test, y_test and optionally x_train, y_train, or x, y "
                                  "(split 80/20 by class) "
                                  "(default: digits, 64 inputs, 10 classes)")
    g.add_argument("--hidden", default=",".join(map(str, DEFAULT_HIDDEN)),
                   help="hidden layer sizes of the trained MLP (default %(default)s)")
    g.add_argument("--epochs", type=int, default=40, help="training epochs (default %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    g.add_argument("--limit", type=int, help="use only the first N test samples (default: all)")
    c = p.add_argument_group("compression")
    c.add_argument("--sparsity", default=str(DEFAULT_SPARSITY),
                   help="fraction of weights pruned: one value, one per layer or name=value pairs "
                        "(default %(default)s)")
    c.add_argument("--bits", type=int, default=4, help="codebook index bits, at most 4 for EIE (default 4)")
    c.add_argument("--balance", action="store_true", help="load-balance-aware pruning for the N PEs")
    c.add_argument("--prune-steps", type=int, default=3, help="iterative pruning steps (default %(default)s)")
    c.add_argument("--retrain-epochs", type=int, default=15,
                   help="masked retraining epochs per pruning step (default %(default)s)")
    c.add_argument("--finetune-epochs", type=int, default=10,
                   help="centroid fine-tuning epochs (default %(default)s)")
    c.add_argument("--no-sweep", action="store_true",
                   help="skip the accuracy-vs-sparsity sweep (its plot)")
    c.add_argument("--max-drop", type=float, default=1.0,
                   help="allowed accuracy loss of the compressed model, percentage points (default %(default)s)")
    h = p.add_argument_group("EIE array and simulation")
    h.add_argument("--pes", type=int, help="number of PEs N (default: the iCEBreaker build's, "
                                           "eiegen.boards.icebreaker BOARD.eie)")
    h.add_argument("--fifo-depth", type=int, help="activation queue depth (default: the iCEBreaker build's)")
    h.add_argument("--frac", type=int, default=8, help="fractional bits of the int16 fixed point (default 8)")
    h.add_argument("--entries-per-word", type=int, default=2,
                   help="8-bit entries per sparse-matrix word (default 2)")
    h.add_argument("--simulator", choices=("verilator", "icarus", "none"), default="verilator",
                   help="simulator of the generated Verilog; none = golden and cycle models only "
                        "(default %(default)s)")
    p.add_argument("-o", "--out", default=str(DEFAULT_OUT),
                   help="output folder, replaced atomically (default %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _hidden(text):
    try:
        vals = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise EiegenError(f"--hidden '{text}': expected comma-separated integers") from None
    return vals


def run(args):
    from ..simflow import SimOptions, run_flow, _Log
    from ..compress import parse_sparsity
    sp = parse_sparsity(args.sparsity, [])
    if isinstance(sp, list):
        if args.model:
            from ..model import load_model
            names = [l.name for l in load_model(args.model).layers]
        else:
            names = [f"fc{i + 1}" for i in range(len(_hidden(args.hidden)) + 1)]
        if len(sp) != len(names):
            raise EiegenError(f"--sparsity has {len(sp)} values for {len(names)} layers ({', '.join(names)})")
        sp = dict(zip(names, sp))
    for v in ([sp] if not isinstance(sp, dict) else sp.values()):
        if not 0.0 <= v < 1.0:
            raise EiegenError(f"--sparsity: {v} is outside [0, 1)")
    if not 1 <= args.bits <= 4:
        raise EiegenError(f"--bits must be 1..4 for EIE's 4-bit weight index, got {args.bits}")
    opts = SimOptions(model=args.model, data=args.data, hidden=_hidden(args.hidden), sparsity=sp,
                      bits=args.bits, balance=args.balance, pes=args.pes, fifo_depth=args.fifo_depth,
                      frac=args.frac, entries_per_word=args.entries_per_word, simulator=args.simulator,
                      limit=args.limit, out=Path(args.out), seed=args.seed, epochs=args.epochs,
                      retrain_epochs=args.retrain_epochs, finetune_epochs=args.finetune_epochs,
                      prune_steps=args.prune_steps, sweep=not args.no_sweep, max_drop=args.max_drop)
    res = run_flow(opts, _Log(quiet=args.quiet))
    print(res["table"])
    print(f"artefacts in {res['out']}/: " + ", ".join(res["files"]))
    ok = True
    rtl = res["rtl"]
    if rtl["simulator"] != "none" and not (rtl["bit_exact"] and rtl["counters_equal_cycle_model"]):
        print("eiegen sim: the RTL disagrees with the golden or cycle model "
              f"(first mismatches (input, output, rtl, golden): {rtl['first_mismatches']})", file=sys.stderr)
        ok = False
    if not res["accuracy_ok"]:
        print(f"eiegen sim: the compressed model loses {res['accuracy_drop_pp']:.2f} pp of accuracy, "
              f"more than --max-drop {args.max_drop:g}", file=sys.stderr)
        ok = False
    return 0 if ok else 1
