"""`eiegen run`: run input vectors on a board over the host link."""

import json
import sys

import numpy as np

from ..atomic import atomic_file, check_output
from ..image import read_image
from ._common import add_force, float_in

NAME = "run"
HELP = "run inputs through an EIE image on a board (serial port or simulated board)"
DESCRIPTION = """Load an image into the board (unless --no-load), write each input vector into
the activation memory, RUN, wait for done, and read back the outputs and the
performance counters (cycles, broadcasts, broadcast stalls, per-PE busy and
idle cycles, and the link's own count of run cycles). A run that does not
end is aborted (by the board's watchdog, set from the image's cycle model
when it is loaded, or by the host after waiting that long): the command
fails naming it, and the board stays usable.

The input .npy has shape (n_in,) or (batch, n_in): float values are quantized
with the image's FRAC; integer arrays need --input-format codes (int16
fixed-point codes, as the hardware reads them) or --input-format float. The output
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
    from .golden import add_input_format
    add_input_format(p)
    p.add_argument("-o", "--output", help=".npy to write the outputs to (int16 fixed point)")
    add_link_arguments(p)
    p.add_argument("--no-load", action="store_true",
                   help="use the model the board holds (it must be committed and be this image)")
    p.add_argument("--verify", action="store_true", help="read every word back when loading")
    p.add_argument("--timeout", type=float_in(above=0),
                   help="seconds to wait for one run before aborting it (default: twice the "
                        "board's run watchdog, which the load sets from the model)")
    p.add_argument("--json", action="store_true", help="print outputs and counters as JSON")
    p.add_argument("--waves", metavar="FILE",
                   help="with --port sim: record the simulated board's waveforms in FILE.vcd, or "
                        "FILE.fst (Verilator's FST needs liblz4-dev); a separately cached build")
    add_force(p)


def run(args):
    from ..link.connect import open_link, progress_printer
    from .golden import load_input
    from .load import check_image_bin
    if args.output:
        check_output(args.output, "int16-outputs", force=args.force, inputs=[args.input, args.image])
    if args.waves:
        from ...sim.cocotb_harness import check_waves_path
        from ..errors import EiegenError
        from ..link.connect import port_of, SIM_PORT
        if port_of(args) != SIM_PORT:
            raise EiegenError("--waves records the simulated board: use it with --port sim")
        problem = check_waves_path(args.waves, "verilator")
        if problem:
            raise EiegenError(problem)
        check_output(args.waves, "waves", force=args.force, inputs=[args.input, args.output])
    image = read_image(args.image)
    x = load_input(args.input, image, args.input_format)
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
        with atomic_file(args.output, kind="int16-outputs", force=args.force) as f:
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
    if args.waves:
        print(f"wrote the simulated board's waveforms to {args.waves}", file=sys.stderr if args.json else sys.stdout)
    return 0
