"""`eiegen run`: run input vectors on a board over the host link."""

import json

import numpy as np

from ..atomic import atomic_file
from ..image import read_image

NAME = "run"
HELP = "run inputs through an EIE image on a board (serial port or simulated board)"
DESCRIPTION = """Load an image into the board (unless --no-load), write each input vector into
the activation memory, RUN, wait for done, and read back the outputs and the
performance counters (cycles, broadcasts, broadcast stalls, per-PE busy and
idle cycles, and the link's own count of run cycles). A run that does not
end is aborted (by the board's watchdog, set from the image's cycle model
when it is loaded, or by the host after waiting that long): the command
fails naming it, and the board stays usable.

The input .npy is int16 fixed point (as the hardware reads it) or float (then
quantized with the image's FRAC); shape (n_in,) or (batch, n_in). The output
.npy is int16 fixed point, exactly what the board computed (bit-exact with
`eiegen golden`).

--port sim (or --sim) runs the simulated board (the board top-level in
Verilator, generated for the image's parameters) instead of a real one.

examples:
  eiegen run build/image --port /dev/ttyUSB0 --input x.npy -o y.npy
  eiegen run build/image --port sim --input x.npy -o y.npy --json"""


def add_arguments(p):
    from ..link.connect import add_link_arguments
    p.add_argument("image", help="image directory")
    p.add_argument("--input", required=True, help=".npy input vector(s)")
    p.add_argument("-o", "--output", help=".npy to write the outputs to (int16 fixed point)")
    add_link_arguments(p)
    p.add_argument("--no-load", action="store_true",
                   help="use the model the board holds (it must be committed and be this image)")
    p.add_argument("--verify", action="store_true", help="read every word back when loading")
    p.add_argument("--timeout", type=float,
                   help="seconds to wait for one run before aborting it (default: twice the "
                        "board's run watchdog, which the load sets from the model)")
    p.add_argument("--json", action="store_true", help="print outputs and counters as JSON")


def run(args):
    from ..link.connect import open_link, progress_printer
    from .golden import load_input
    from .load import check_image_bin
    image = read_image(args.image)
    x = load_input(args.input, image)
    with open_link(args, image.params) as client:
        if args.no_load:
            client.check_image(image)
        else:
            check_image_bin(args.image, image)
            r = client.load(image, verify=args.verify, progress=progress_printer(not args.json))
            if not args.json:
                print(f"loaded {args.image}: {r.writes} write frames, load checksum "
                      f"{r.checksum:#010x}, {r.retries} retransmissions")
        res = client.infer(image, x, timeout=args.timeout)
    y = res.outputs if x.ndim == 2 else res.outputs[0]
    if args.output:
        with atomic_file(args.output) as f:
            np.save(f, y)
    frac = image.params.frac
    if args.json:
        print(json.dumps({"outputs": res.outputs.tolist(), "counters": res.counters}, indent=1))
    else:
        for b, (yy, c) in enumerate(zip(res.outputs, res.counters)):
            label = f"input {b}: " if len(res.outputs) > 1 else ""
            print(f"{label}output (int16, Q{15 - frac}.{frac}): {yy.tolist()}")
            print(f"  as float: {np.round(yy / 2.0 ** frac, 4).tolist()}")
            print(f"  cycles {c['cycles']} (link: {c['run_cycles']}), broadcasts {c['broadcasts']}, "
                  f"broadcast stalls {c['bcast_stall']}")
            print(f"  PE busy {c['busy']}  idle {c['idle']}")
        if args.output:
            print(f"wrote {args.output}: {y.shape} int16")
    return 0
