"""`eiegen golden`: the golden model's outputs (and the cycle model's report)."""

import json
from pathlib import Path

import numpy as np

from ..errors import EiegenError
from ..image import read_image
from ..atomic import atomic_file, check_output
from ._common import add_force, eie_param

NAME = "golden"
HELP = "run the bit-exact golden model (and, with --cycles, the cycle model) on an image"
DESCRIPTION = """Run input vectors through the golden model of the EIE array holding an image.
The input .npy is int16 fixed point (as the hardware reads it) or float (then
quantized with the image's FRAC); shape (n_in,) or (batch, n_in). The output
.npy is int16 fixed point, as the hardware writes it.

example:
  eiegen golden build/image --input x.npy -o y.npy --cycles"""


def add_arguments(p):
    p.add_argument("image", help="image directory")
    p.add_argument("--input", required=True, help=".npy input vector(s)")
    p.add_argument("-o", "--output", required=True, help=".npy to write (int16 fixed point)")
    p.add_argument("--cycles", action="store_true", help="also run the cycle model and print its report")
    p.add_argument("--fifo-depth", type=eie_param("fifo_depth"), default=8, help="activation queue depth for --cycles (default %(default)s)")
    p.add_argument("--report-json", help="write the cycle report as JSON here")
    add_force(p)


def load_input(path, image):
    from ...sim.eie_golden import quantize_input
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise EiegenError(f"{path}: not a readable .npy file ({exc})") from None
    if x.ndim not in (1, 2):
        raise EiegenError(f"{path}: input must be 1-D or 2-D, got shape {x.shape}")
    n_in = image.layers[0].n_in
    if x.shape[-1] != n_in:
        raise EiegenError(f"{path}: input has {x.shape[-1]} values per vector; layer "
                          f"'{image.layers[0].name}' takes {n_in}")
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise EiegenError(f"{path}: input has NaN or Inf values")
        x = quantize_input(x, image.params.frac)
    elif np.issubdtype(x.dtype, np.integer):
        if x.min() < -32768 or x.max() > 32767:
            raise EiegenError(f"{path}: integer input outside int16")
        x = x.astype(np.int16)
    else:
        raise EiegenError(f"{path}: unsupported dtype {x.dtype}")
    return x


def run(args):
    from ...sim.eie_golden import image_forward
    from ...sim.eie_cycles import simulate
    check_output(args.output, "int16-outputs", force=args.force, inputs=[args.input, args.image])
    if args.report_json:
        check_output(args.report_json, "cycle-report", force=args.force,
                     inputs=[args.input, args.image, args.output])
    image = read_image(args.image)
    x = load_input(args.input, image)
    decoded = image.decode()
    p = image.params
    y = image_forward(decoded, x, frac=p.frac, acc_width=p.acc_width)
    with atomic_file(args.output, kind="int16-outputs", force=args.force) as f:
        np.save(f, y)
    print(f"wrote {args.output}: {y.shape} int16 (Q{15 - p.frac}.{p.frac})")
    if args.cycles:
        xs = np.atleast_2d(x)
        reports = [simulate(image, v, fifo_depth=args.fifo_depth) for v in xs]
        for i, r in enumerate(reports):
            if len(xs) > 1:
                print(f"input {i}:")
            print(r.table())
        if args.report_json:
            with atomic_file(args.report_json, "w", kind="cycle-report", force=args.force) as f:
                json.dump([r.to_dict() for r in reports], f, indent=1)
    return 0
