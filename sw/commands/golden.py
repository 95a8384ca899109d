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
The input .npy has shape (n_in,) or (batch, n_in): float values are quantized
with the image's FRAC; integer values must say what they are, with
--input-format codes (int16 fixed-point codes, as the hardware reads them) or
--input-format float (numbers, quantized like floats). The output .npy is
int16 fixed point, as the hardware writes it.

With --cycles the cycle model runs too: one input prints its per-layer table,
a batch prints one summary (cycles and load efficiency: mean, min, max);
--per-input adds every input's table.

examples:
  eiegen golden build/image --input x.npy -o y.npy --cycles
  eiegen golden build/image --input codes.npy --input-format codes -o y.npy"""


def add_arguments(p):
    p.add_argument("image", help="image directory")
    p.add_argument("--input", required=True, help=".npy input vector(s)")
    add_input_format(p)
    p.add_argument("-o", "--output", required=True, help=".npy to write (int16 fixed point)")
    p.add_argument("--cycles", action="store_true",
                   help="also run the cycle model: its table for one input, a summary for a batch")
    p.add_argument("--per-input", action="store_true", help="with --cycles: every input's table too")
    p.add_argument("--fifo-depth", type=eie_param("fifo_depth"), default=8, help="activation queue depth for --cycles (default %(default)s)")
    p.add_argument("--report-json", help="write the cycle report as JSON here")
    add_force(p)


INPUT_FORMATS = ("float", "codes")


def add_input_format(p):
    p.add_argument("--input-format", choices=INPUT_FORMATS,
                   help="how to read the input: float = numbers, quantized with the image's FRAC "
                        "(the default for float arrays); codes = int16 fixed-point codes as the "
                        "hardware reads them. Integer arrays need one of the two")


def load_input(path, image, input_format=None):
    """The input vectors as int16 codes. Float arrays are quantized; integer
    arrays are codes or numbers as `input_format` says, and refused without it
    (raw pixels 0..16 are not Q7.8 codes)."""
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
    frac = image.params.frac
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise EiegenError(f"{path}: input has NaN or Inf values")
        if input_format == "codes":
            raise EiegenError(f"{path}: holds {x.dtype} values; --input-format codes reads integer "
                              f"codes (drop it to quantize the values)")
        x = quantize_input(x, frac)
    elif np.issubdtype(x.dtype, np.integer):
        if input_format is None:
            lo, hi = (int(x.min()), int(x.max())) if x.size else (0, 0)
            raise EiegenError(f"{path}: holds integers ({x.dtype}, {lo}..{hi}); say what they are: "
                              f"--input-format codes for Q{15 - frac}.{frac} fixed-point codes as the "
                              f"hardware reads them (code q is q / {1 << frac}), or --input-format float "
                              f"to quantize them as numbers")
        if input_format == "float":
            x = quantize_input(x.astype(np.float64), frac)
        else:
            if x.size and (x.min() < -32768 or x.max() > 32767):
                raise EiegenError(f"{path}: integer input outside int16")
            x = x.astype(np.int16)
    else:
        raise EiegenError(f"{path}: unsupported dtype {x.dtype}")
    return x


def cycle_summary(reports, fifo_depth, hint=True):
    """One summary of a batch's cycle reports."""
    cyc = np.array([r.total_cycles for r in reports], dtype=np.float64)
    eff = np.array([r.load_efficiency for r in reports])
    stall = np.array([r.bcast_stall for r in reports], dtype=np.float64)
    return "\n".join([
        f"cycle model, {len(reports)} inputs, FIFO depth {fifo_depth}:",
        f"  cycles per inference  {cyc.mean():.0f} mean ({cyc.min():.0f} .. {cyc.max():.0f})",
        f"  load efficiency       {eff.mean():.1%} mean ({eff.min():.1%} .. {eff.max():.1%}); "
        "ideal compute / compute cycles",
        f"  broadcast stalls      {stall.mean():.1f} mean per inference"]
        + (["  (--per-input prints every input's table)"] if hint else []))


def run(args):
    from ...sim.eie_golden import image_forward
    from ...sim.eie_cycles import simulate
    without = [o for o, v in (("--report-json", args.report_json), ("--per-input", args.per_input)) if v]
    if without and not args.cycles:
        raise EiegenError(f"{' and '.join(without)}: only with --cycles (the cycle model's report)")
    check_output(args.output, "int16-outputs", force=args.force, inputs=[args.input, args.image])
    if args.report_json:
        check_output(args.report_json, "cycle-report", force=args.force,
                     inputs=[args.input, args.image, args.output])
    image = read_image(args.image)
    x = load_input(args.input, image, args.input_format)
    decoded = image.decode()
    p = image.params
    y = image_forward(decoded, x, frac=p.frac, acc_width=p.acc_width)
    with atomic_file(args.output, kind="int16-outputs", force=args.force) as f:
        np.save(f, y)
    print(f"wrote {args.output}: {y.shape} int16 (Q{15 - p.frac}.{p.frac})")
    if args.cycles:
        xs = np.atleast_2d(x)
        reports = [simulate(image, v, fifo_depth=args.fifo_depth) for v in xs]
        if x.ndim == 1:
            print(reports[0].table())
        else:
            if args.per_input:
                for i, r in enumerate(reports):
                    print(f"input {i}:")
                    print(r.table())
            print(cycle_summary(reports, args.fifo_depth, hint=not args.per_input))
        if args.report_json:
            with atomic_file(args.report_json, "w", kind="cycle-report", force=args.force) as f:
                json.dump([r.to_dict() for r in reports], f, indent=1)
    return 0
