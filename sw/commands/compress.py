"""`eiegen compress`: a float model -> a compressed model (.npz) and its report."""

import json
import sys
from pathlib import Path

from ...hw.eie.params import EIEParams
from ..atomic import atomic_file, check_output
from ..errors import EiegenError
from ..model import CompressedModel, load_model, save_compressed_model
from ._common import add_force, eie_param, int_in

NAME = "compress"
HELP = "Deep Compression of a float model: prune, quantize (weight sharing), report"
DESCRIPTION = """Prune and quantize a float model (Deep Compression) and write the compressed
model: per layer a codebook (entry 0 = 0.0) and a matrix of codebook indices,
in the compressed .npz format (docs/compression.md). Prints the compression
report (density, bits per weight fixed and with Huffman coding, padding
entries and entries per PE for --pes PEs, bytes and ratio against fp32);
docs/compression.md explains the steps, options and columns.

The model is a float .npz (<layer>.weight, optional <layer>.bias and
<layer>.relu) or a PyTorch state_dict (.pt/.pth, needs torch).

examples:
  eiegen compress model.npz -o build/model-c.npz
  eiegen compress model.npz -o c.npz --sparsity fc1=0.92,fc2=0.91,fc3=0.75 --bits 4
  eiegen compress model.npz -o c.npz --sparsity 0.9 --pes 64 --balance --report-json r.json"""

_DEFAULT_PES = EIEParams().n_pes


def add_arguments(p):
    p.add_argument("model", help="float model: .npz or PyTorch state_dict (.pt/.pth)")
    p.add_argument("-o", "--output", required=True, help="compressed model to write (.npz)")
    p.add_argument("--sparsity", default="0.9",
                   help="fraction of weights pruned, in [0, 1): one value for every layer, one per "
                        "layer comma-separated (0.92,0.91,0.75), or name=value pairs naming every "
                        "layer (fc1=0.92,fc2=0.91) (default %(default)s)")
    p.add_argument("--bits", type=int_in(1, 8), default=4,
                   help="codebook index bits, 1..8: 2**bits - 1 shared weights plus 0.0; EIE "
                        "hardware takes at most 4 (default %(default)s)")
    p.add_argument("--pes", type=eie_param("n_pes"), default=_DEFAULT_PES,
                   help="number of PEs N, for --balance and the report's per-PE figures "
                        "(default %(default)s)")
    p.add_argument("--balance", action="store_true",
                   help="load-balance-aware pruning: in every column, every PE keeps the same "
                        "number of non-zeros (row i is on PE i mod N)")
    p.add_argument("--group", type=int_in(1), default=1, metavar="G",
                   help="with --balance: columns per balanced group; every PE's share of each "
                        "group of G consecutive columns keeps the same count (default %(default)s)")
    p.add_argument("--report-json", metavar="PATH", help="also write the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-layer progress lines")
    add_force(p)


def run(args):
    from ..compress import compress_model, compression_report, parse_sparsity
    out = Path(args.output)
    if out.suffix.lower() != ".npz":
        raise EiegenError(f"output '{out}': a compressed model is written as .npz")
    if out.exists() and out.is_dir():
        raise EiegenError(f"output '{out}' is a directory")
    if args.report_json and Path(args.report_json).is_dir():
        raise EiegenError(f"--report-json '{args.report_json}' is a directory")
    check_output(out, "compressed-model", force=args.force, inputs=[args.model])
    if args.report_json:
        check_output(args.report_json, "compression-report", force=args.force,
                     inputs=[args.model, out])
    if args.pes < 1:
        raise EiegenError(f"--pes must be at least 1, got {args.pes}")
    if args.group < 1:
        raise EiegenError(f"--group must be at least 1, got {args.group}")
    if args.group != 1 and not args.balance:
        raise EiegenError("--group applies to load-balance-aware pruning; add --balance")
    if not 1 <= args.bits <= 8:
        raise EiegenError(f"--bits must be from 1 to 8, got {args.bits}")
    model = load_model(args.model)
    if isinstance(model, CompressedModel):
        raise EiegenError(f"{args.model}: the model is already compressed")
    sparsity = parse_sparsity(args.sparsity, [l.name for l in model.layers])
    progress = None if args.quiet else (lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    compressed = compress_model(model, sparsity=sparsity, bits=args.bits, pes=args.pes,
                                balance=args.balance, group=args.group,
                                progress=progress)
    report = compression_report(compressed, model, args.pes)
    report_text = json.dumps(report.to_dict(), indent=1) + "\n"
    if args.report_json:
        # the report first: if the model cannot be written, remove it again
        with atomic_file(args.report_json, "w") as f:
            f.write(report_text)
        try:
            save_compressed_model(compressed, out)
        except BaseException:
            Path(args.report_json).unlink(missing_ok=True)
            raise
    else:
        save_compressed_model(compressed, out)
    print(report.table())
    print(f"wrote {out}" + (f" and {args.report_json}" if args.report_json else ""))
    return 0
