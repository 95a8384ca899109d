"""`eiegen load`: load an image into a board over the host link."""

from pathlib import Path

from ..errors import ImageError
from ..image import read_image

NAME = "load"
HELP = "load an EIE image into a board over the host link (serial port or simulated board)"
DESCRIPTION = """Load an image directory (from `eiegen pack`) into the EIE array on a board.
The host identifies the board and refuses an image built for other generator
parameters, sends BEGIN, writes every memory (frames with CRCs, damaged frames
are sent again), optionally reads every word back (--verify), and commits the
load with its checksum: the board runs only a completely and correctly loaded
model. Protocol and rules: docs/host-link.md.

--port sim (or --sim) loads a simulated board (the board top-level in
Verilator, generated for the image's parameters) instead of a real one; it
lives only for this command. pyserial is needed only for a real port.

examples:
  eiegen load build/image --port /dev/ttyUSB0 --verify
  eiegen load build/image --port sim"""


def add_arguments(p):
    from ..link.connect import add_link_arguments
    p.add_argument("image", help="image directory")
    add_link_arguments(p)
    p.add_argument("--verify", action="store_true",
                   help="read every written word back before committing (the load checksum "
                        "is always checked)")


def check_image_bin(path, image):
    """image.bin must be exactly the frames that load the image's memories."""
    from ..linkimage import image_frames
    binf = Path(path) / "image.bin"
    if binf.exists() and binf.read_bytes() != b"".join(image_frames(image)):
        raise ImageError(f"{binf}: does not match the image's memories (written by another "
                         f"eiegen version?); run `eiegen pack` again")


def run(args):
    from ..link.connect import open_link, progress_printer
    image = read_image(args.image)
    check_image_bin(args.image, image)
    with open_link(args, image.params) as client:
        r = client.load(image, verify=args.verify, progress=progress_printer())
        st = client.status()
    how = "read back and checksum" if r.verified else "checksum"
    print(f"loaded {args.image}: {r.writes} write frames, {r.payload_bytes} bytes, "
          f"load checksum {r.checksum:#010x} ({how} verified), {r.retries} retransmissions")
    print(f"board: loaded={st['loaded']} rx_errors={st['rx_errors']} frames={st['frames']}")
    return 0
