"""`eiegen decode`: an image -> dense quantized matrices."""

import numpy as np

from ..image import read_image
from ..atomic import atomic_file, check_output
from ._common import add_force

NAME = "decode"
HELP = "rebuild the dense quantized weight matrices and biases from an image"
DESCRIPTION = """Decode an image directory back into dense matrices. The .npz holds, per layer,
<layer>.weight (fixed-point values as floats), <layer>.weight_q (int16 codes),
<layer>.index (codebook indices), <layer>.codebook_q, <layer>.bias, <layer>.bias_q
and <layer>.relu.

example:
  eiegen decode build/image -o dense.npz"""


def add_arguments(p):
    p.add_argument("image", help="image directory")
    p.add_argument("-o", "--output", required=True, help=".npz to write")
    add_force(p)


def run(args):
    check_output(args.output, "decoded-model", force=args.force, inputs=[args.image])
    image = read_image(args.image)
    frac = image.params.frac
    arrays = {}
    for layer in image.decode():
        arrays[f"{layer.name}.weight"] = layer.weight.astype(np.float64) / (1 << frac)
        arrays[f"{layer.name}.weight_q"] = layer.weight
        arrays[f"{layer.name}.index"] = layer.index
        arrays[f"{layer.name}.codebook_q"] = layer.codebook
        arrays[f"{layer.name}.bias"] = layer.bias.astype(np.float64) / (1 << frac)
        arrays[f"{layer.name}.bias_q"] = layer.bias
        arrays[f"{layer.name}.relu"] = np.array(layer.relu)
    with atomic_file(args.output, kind="decoded-model", force=args.force) as f:
        np.savez(f, **arrays)
    print(f"wrote {args.output}: {len(image.layers)} layer(s)")
    return 0
