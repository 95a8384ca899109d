"""`eiegen swap`: an image's weights into an existing bitstream, without place and route."""

from ..errors import EiegenError
from ._common import add_force

NAME = "swap"
HELP = "put an EIE image into a placeholder bitstream (icebram / ecpbram), no place and route"
DESCRIPTION = """Replace the random placeholder contents of the block RAMs of an `eiegen build`
output (built without --image) by an image's weights, with the yowasp icebram
(iCE40) or ecpbram (ECP5), and pack a new bitstream: seconds instead of a new
place and route. The image must be packed for the build's generator parameters
(build.json). Memories in SPRAM (iCEBreaker's sparse matrices) have no initial
contents: they are loaded over the host link.

examples:
  eiegen build --board ulx3s --pes 8 -o build/ulx3s
  eiegen pack model.npz -o build/image --pes 8 --spmat-depth 2048 ...
  eiegen swap build/ulx3s build/image -o build/ulx3s/model.bit"""


def add_arguments(p):
    p.add_argument("build", help="output folder of `eiegen build` (holds build.json)")
    p.add_argument("image", help="EIE image directory (from `eiegen pack`)")
    p.add_argument("-o", "--output", help="bitstream to write (default <build>/swapped.bin|bit)")
    add_force(p, "bitstream")


def run(args):
    from pathlib import Path
    from ..atomic import check_output
    from ..image import read_image
    from ...boards.swap import swap, load_build_info
    info = load_build_info(args.build)
    if info["design"] != "eie":
        raise EiegenError(f"{args.build}: a {info['design']} build; only EIE builds take an image")
    output = Path(args.output) if args.output else \
        Path(args.build) / f"swapped.{'bin' if info['family'] == 'ice40' else 'bit'}"
    bitstream = info.get("bitstream")
    check_output(output, "bitstream", force=args.force,
                 inputs=[Path(args.build) / bitstream if bitstream else None,
                         Path(args.build) / info["config"]])
    image = read_image(args.image)
    swap(args.build, image, output)
    return 0
