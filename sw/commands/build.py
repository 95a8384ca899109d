"""`eiegen build`: a bitstream for a board (yowasp Yosys + nextpnr), with its report."""

import json

from ..errors import EiegenError
from ._common import add_force, eie_param, float_in, int_in

NAME = "build"
HELP = "build a bitstream for a board: EIE array or systolic unit, host link, report"
DESCRIPTION = """Elaborate the board's top-level (clock, host link on the UART, the unit, status
LEDs), synthesise, place and route and pack it with the yowasp tools, and print
the report: logic, DSPs, block RAMs, SPRAMs used of available, Fmax against the
clock the top runs at, the peak throughput at that clock (2 x multipliers x f)
and, with an image (--image, or --report-image), the cycle model's cycles and
microseconds per inference and the effective GOP/s on that model. Exits non-zero when timing is not met (the reports stay
in the output folder, the bitstream does not).

The weights are either baked into block RAM from an image (--image), or left as
random placeholders that `eiegen swap` replaces later without place and route;
memories in SPRAM (iCEBreaker's sparse matrices) are loaded over the host link.
The board files and figures are in docs/boards.md.

examples:
  eiegen build --board icebreaker
  eiegen build --board ulx3s --design eie --pes 16
  eiegen build --board ulx3s --image build/image          # weights baked in
  eiegen build --board ulx3s --design systolic --pes 4     # a 4x4 systolic array
  eiegen build --board icebreaker --design link           # the host link and board glue alone
  eiegen build --board icebreaker --alone --pes 4          # the EIE array alone (a measurement)"""


def add_arguments(p):
    from ...boards.board import board_names
    p.add_argument("--board", required=True, choices=board_names(), help="target board")
    p.add_argument("--design", choices=("eie", "systolic", "link"), default="eie",
                   help="unit on the board (default %(default)s); 'link' is the host link and the "
                        "board glue with a null unit, to measure them alone")
    p.add_argument("--alone", action="store_true",
                   help="EIE: the array alone, without host link or board glue (inputs from a "
                        "shift register on one pin, outputs XOR-ed to one): what the array itself "
                        "costs and how fast it runs; no bitstream is kept")
    p.add_argument("--pes", type=int_in(1, 64),
                   help="EIE: number of PEs; systolic: an N x N array (default: the board's)")
    p.add_argument("--rows", type=int_in(1, 64), help="systolic: array rows (default: --pes or the board's)")
    p.add_argument("--cols", type=int_in(1, 64), help="systolic: array columns (default: --pes or the board's)")
    g = p.add_argument_group("EIE memory depths (default: the board's; with --image: the image's)")
    for name, what in (("spmat_depth", "sparse-matrix words per PE"),
                       ("ptr_depth", "pointers per bank per PE"), ("bias_depth", "bias words per PE"),
                       ("act_depth", "activations per PE per file"),
                       ("fifo_depth", "activation queue depth"), ("max_layers", "layers an image may hold")):
        g.add_argument("--" + name.replace("_", "-"), type=eie_param(name), dest=name, metavar="N", help=what)
    p.add_argument("--image", help="EIE image directory whose weights are baked into block RAM")
    p.add_argument("--report-image", metavar="DIR",
                   help="EIE image directory to report cycles and throughput on (not baked; it "
                        "must be packed for this build's parameters); default: --image")
    p.add_argument("--freq", type=float_in(1, 1000), help="clock of the top in MHz (default: the board's; "
                                              "a PLL makes it when it differs from the oscillator)")
    p.add_argument("-o", "--output", help="output folder (default build/boards/<board>-<design>-<size>)")
    p.add_argument("--seed", type=int_in(0, (1 << 31) - 1), default=0, help="placeholder contents and nextpnr seed")
    p.add_argument("--json", action="store_true", help="print the report as JSON too")
    add_force(p, "output folder")


def _params(args, board):
    if args.design == "eie":
        if args.rows is not None or args.cols is not None:
            raise EiegenError("--rows/--cols are for --design systolic; the EIE array takes --pes")
        kw = {}
        image = None
        if args.image:
            from ..image import read_image
            image = read_image(args.image)
            kw.update(image.params.image_dict())    # the memories; timing stays the board's
        if args.pes is not None:
            kw["n_pes"] = args.pes
        for name in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth", "fifo_depth", "max_layers"):
            if getattr(args, name) is not None:
                kw[name] = getattr(args, name)
        return board.eie_params(**kw), image
    if args.image:
        raise EiegenError("--image bakes an EIE image; the systolic unit is loaded over the host link")
    if args.design == "link":
        given = [o for o, v in (("--pes", args.pes), ("--rows", args.rows), ("--cols", args.cols))
                 if v is not None]
        given += [f"--{n.replace('_', '-')}" for n in ("spmat_depth", "ptr_depth", "bias_depth",
                                                       "act_depth", "fifo_depth", "max_layers")
                  if getattr(args, n) is not None]
        if given:
            raise EiegenError(f"{', '.join(given)}: --design link has no unit to size")
        return None, None
    for name in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth", "fifo_depth", "max_layers"):
        if getattr(args, name) is not None:
            raise EiegenError(f"--{name.replace('_', '-')} is an EIE parameter")
    rows = args.rows if args.rows is not None else args.pes
    cols = args.cols if args.cols is not None else args.pes
    return board.systolic_params(rows=rows, cols=cols), None


def _run_alone(args, board, params, image):
    from ...boards.standalone import build_standalone
    if args.design != "eie":
        raise EiegenError(f"--alone builds the EIE array alone; --design {args.design} has a board top only")
    if image is not None or args.report_image:
        raise EiegenError("--alone measures the array: no --image or --report-image")
    sync_hz = args.freq * 1e6 if args.freq is not None else None
    result = build_standalone(board, params, out_dir=args.output, sync_hz=sync_hz, seed=args.seed,
                              force=args.force)
    if args.json:
        print(json.dumps(result.info["report"], indent=1))
    print(f"report: {result.out_dir / 'report.txt'}")
    from ...boards.report import check_timing
    check_timing(result.report, where=f"{board.name} EIE array alone ({result.out_dir})")
    return 0


def run(args):
    from ...boards.board import get_board
    from ...boards.build import build
    from ...boards.report import TimingError
    from ..atomic import check_output
    board = get_board(args.board)
    params, image = _params(args, board)
    if args.alone:
        return _run_alone(args, board, params, image)
    if args.output is not None:
        check_output(args.output, "board-build", force=args.force, inputs=[args.image])
    sync_hz = args.freq * 1e6 if args.freq is not None else None
    report_image, name = None, args.image
    if args.report_image:
        from ..image import read_image
        report_image, name = read_image(args.report_image), args.report_image
    try:
        result = build(board, args.design, params, out_dir=args.output, image=image,
                       sync_hz=sync_hz, seed=args.seed, force=args.force, report_image=report_image,
                       image_name=name)
    except TimingError:
        raise
    if args.json:
        print(json.dumps({**result.info["report"], "throughput": result.info["throughput"]}, indent=1))
    print(f"bitstream: {result.bitstream}")
    return 0
