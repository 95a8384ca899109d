"""`eiegen pack`: a model -> an EIE memory image directory."""

import json

from ..errors import EiegenError
from ..model import load_model, CompressedModel
from ._common import (add_eie_params, eie_params_from_args, add_compression_args, parse_sparsity,
                      fit_params)

NAME = "pack"
HELP = "pack a model into an EIE memory image (interleaved CSC) for N PEs"
DESCRIPTION = """Pack a compressed model (from `eiegen compress`) or a float model (compressed
first with the compression options) into an image directory: manifest.json,
one $readmemh file per memory per PE, and image.bin for the host link.
The layout of every file is in docs/image-format.md.

example:
  eiegen pack model.npz -o build/image --pes 4 --sparsity 0.9 --fit"""


def add_arguments(p):
    p.add_argument("model", help="model file: compressed .npz, float .npz, ONNX (.onnx) or PyTorch state_dict")
    p.add_argument("-o", "--output", required=True, help="image directory to write")
    add_eie_params(p, board=True)
    add_compression_args(p)
    p.add_argument("--json", action="store_true", help="print the image statistics as JSON")


def run(args):
    from ..packer import pack
    from ..image import write_image
    model = load_model(args.model)
    params = eie_params_from_args(args)
    if not isinstance(model, CompressedModel):
        from ..compress import compress_model
        sparsity = parse_sparsity(args.sparsity, [l.name for l in model.layers])
        model = compress_model(model, sparsity=sparsity, bits=args.bits, pes=params.n_pes,
                               balance=args.balance)
    if args.fit:
        explicit = [k for k in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth", "max_layers")
                    if getattr(args, k) is not None]
        params = fit_params(model, params, explicit)
    image = pack(model, params)
    write_image(image, args.output)
    st = image.stats
    if args.json:
        print(json.dumps({"params": params.to_dict(), "stats": st}, indent=1))
    else:
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
