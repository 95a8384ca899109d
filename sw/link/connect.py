"""Opening a link for the CLI: a serial port, or the simulated board.

`--port sim` (or `--sim`) runs the board top-level in Verilator
(eiegen.sim.board_harness) for the duration of one command; the simulated
board is generated for the image's own parameters unless `sim_params` says
otherwise.
"""

import contextlib
import sys

from ..argtypes import int_in
from ..errors import EiegenError
from .client import LinkClient
from .transport import SerialTransport, DEFAULT_BAUD

__all__ = ["SIM_PORT", "add_link_arguments", "open_link", "progress_printer"]

SIM_PORT = "sim"


def add_link_arguments(p):
    g = p.add_argument_group("host link")
    g.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0, COM3), or "
                                  "'sim' for the simulated board")
    g.add_argument("--sim", action="store_true",
                   help="use the simulated board (same as --port sim; needs Verilator, no pyserial)")
    g.add_argument("--baud", type=int_in(1), default=DEFAULT_BAUD,
                   help="baud rate of the serial port (default %(default)s)")
    g.add_argument("--retries", type=int_in(0), default=4,
                   help="retransmissions of a frame damaged on the line (default %(default)s)")
    g.add_argument("-v", "--verbose", action="store_true", help="report every retransmission")
    return g


def port_of(args):
    if args.sim:
        if args.port not in (None, SIM_PORT):
            raise EiegenError(f"--sim and --port {args.port} contradict each other")
        return SIM_PORT
    if not args.port:
        raise EiegenError("which board? give --port /dev/ttyUSB0 (a serial port) or --port sim")
    return args.port


def progress_printer(enabled=True):
    """A progress callback printing 'write 10/40' to stderr (a terminal only)."""
    enabled = enabled and sys.stderr.isatty()

    def progress(what, done, total):
        if not enabled:
            return
        step = max(1, total // 10)
        if done == total or done % step == 0:
            end = "\n" if done == total else "\r"
            print(f"  {what} {done}/{total}", end=end, file=sys.stderr, flush=True)
    return progress


@contextlib.contextmanager
def open_link(args, params, *, log=None):
    """Yield a LinkClient on the port named by args (see add_link_arguments);
    `params` sizes the simulated board."""
    port = port_of(args)
    log = log or ((lambda text: print(f"  {text}", file=sys.stderr)) if args.verbose else None)
    if port == SIM_PORT:
        from ...sim.board_harness import SimBoard
        waves = getattr(args, "waves", None)
        print("starting the simulated board (Verilator)", file=sys.stderr, flush=True)
        with SimBoard(params, waves=waves,
                      progress=lambda line: print(line, file=sys.stderr, flush=True)) as board:
            yield LinkClient(board.transport, retries=args.retries, log=log)
    else:
        with SerialTransport(port, args.baud) as t:
            yield LinkClient(t, retries=args.retries, log=log)
