"""`eiegen pack`: a model -> an EIE memory image directory."""

import json

from ..errors import EiegenError
from ..model import load_model, CompressedModel
from ..atomic import check_output
from ._common import (add_eie_params, eie_params_from_args, add_compression_args, parse_sparsity,
                      fit_params, add_force)

NAME = "pack"
HELP = "pack a model into an EIE memory image (interleaved CSC) for N PEs"
DESCRIPTION = """Pack a compressed model (from `eiegen compress`) or a float model into an image
directory: manifest.json, params.json, one $readmemh file per memory per PE,
and image.bin for the host link. The layout of every file is in
docs/image-format.md.

A float model is compressed first (magnitude or, with --balance,
load-balance-aware pruning and k-means weight sharing, as `eiegen compress`
does, without retraining); how much to prune is the user's decision, so
--sparsity is required for a float model. `eiegen compress` shows the
compression report first.

examples:
  eiegen pack build/model-c.npz -o build/image --pes 4 --fit
  eiegen pack model.npz -o build/image --pes 4 --sparsity 0.9 --fit"""


def add_arguments(p):
    p.add_argument("model", help="model file: compressed .npz, float .npz, ONNX (.onnx) or PyTorch state_dict")
    p.add_argument("-o", "--output", required=True,
                   help="image directory to write (replaces only an earlier image, atomically)")
    add_force(p, "image directory")
    add_eie_params(p, board=True)
    add_compression_args(p)
    p.add_argument("--json", action="store_true", help="print the image statistics as JSON")


def run(args):
    from ..packer import pack
    from ..image import write_image
    check_output(args.output, "eie-image", force=args.force, inputs=[args.model])
    model = load_model(args.model)
    params = eie_params_from_args(args)
    compressed_here = None
    if not isinstance(model, CompressedModel):
        from ..compress import compress_model
        if args.sparsity is None:
            raise EiegenError(f"{args.model} is a float model: pack compresses it first and needs "
                              "--sparsity (the fraction of weights pruned, e.g. 0.9), or compress it "
                              "with `eiegen compress` (which prints the compression report) and pack that")
        sparsity = parse_sparsity(args.sparsity, [l.name for l in model.layers])
        bits = 4 if args.bits is None else args.bits
        model = compress_model(model, sparsity=sparsity, bits=bits, pes=params.n_pes,
                               balance=args.balance)
        compressed_here = (f"compressed {args.model} first: sparsity {args.sparsity}, {bits}-bit codebook"
                           + (f", load-balanced for {params.n_pes} PEs" if args.balance else "")
                           + " (no retraining)")
    elif args.sparsity is not None or args.bits is not None or args.balance:
        given = [o for o, v in (("--sparsity", args.sparsity), ("--bits", args.bits),
                                ("--balance", args.balance)) if v not in (None, False)]
        raise EiegenError(f"{args.model} is already compressed: {', '.join(given)} applies to float "
                          "models only")
    if args.fit:
        explicit = [k for k in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth", "max_layers")
                    if getattr(args, k) is not None]
        params = fit_params(model, params, explicit)
    image = pack(model, params)
    write_image(image, args.output, force=args.force)
    st = image.stats
    if args.json:
        print(json.dumps({"params": params.to_dict(), "stats": st}, indent=1))
    else:
        if compressed_here:
            print(compressed_here)
        print(f"wrote {args.output}: {len(image.layers)} layer(s) for {params.n_pes} PEs")
        for l in image.layers:
            print(f"  {l.name:12s} {l.n_out:5d} x {l.n_in:<5d} non-zeros {l.nonzeros:8d}  "
                  f"entries/PE max {max(l.entries):7d}  padding {sum(l.padding):6d}")
        print(f"  density {st['density']:.2%}, entries {st['entries']} (padding {st['padding_entries']}), "
              f"load balance {st['load_balance']:.1%}, {st['storage_bits'] / 8 / 1024:.1f} KiB, "
              f"{st['compression_ratio_vs_fp32']:.1f}x smaller than fp32")
        print(f"  memories: spmat {params.spmat_depth} x {params.spmat_width} b, ptr 2 x {params.ptr_depth} "
              f"x {params.ptr_width} b, bias {params.bias_depth}, act {params.act_depth}, "
              f"layers {params.max_layers}")
    return 0
