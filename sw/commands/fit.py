"""`eiegen fit`: does a model fit a board's EIE build; what would; how fast it runs."""

import json

from ..errors import EiegenError
from ..model import load_model, CompressedModel
from ._common import add_compression_args, parse_sparsity

NAME = "fit"
HELP = "does a model fit a board's EIE build? the options that make it fit, cycles and inferences/s"
DESCRIPTION = """Check a model (compressed .npz, or a float model, compressed first with the
compression options and the board's number of PEs) against the EIE array of a
board's default build (boards/<board>.py): every memory it fills, what it
needs and what the build has. When it does not fit, the `eiegen pack` and
`eiegen build` options that make it fit (each short memory grown to the
smallest power of two that holds it), or, when the board cannot hold even
that, which memory and by how much (block RAM and SPRAM estimated from the
array's memories; logic only a build can tell). Then the cycle model's count
per inference (every activation non-zero unless --input gives real inputs)
and inferences per second at the build's clock. Exit status 1 when the board cannot
hold the model, 2 on bad input.

--capacity prints, for every board, the largest model its default build
accepts (the table of docs/boards.md; --update docs/boards.md rewrites it
there, between its markers).

examples:
  eiegen fit build/make-sim/model_compressed.npz --board icebreaker
  eiegen fit lenet300.npz --board ulx3s --sparsity 0.92 --input x.npy
  eiegen fit --capacity"""


def add_arguments(p):
    from ...boards.board import board_names
    p.add_argument("model", nargs="?", help="model file: compressed .npz, float .npz (or another "
                                            "format the model loader reads)")
    p.add_argument("--board", choices=board_names(), help="target board")
    p.add_argument("--input", help=".npy input vector(s) for the cycle count (int16 codes or "
                                   "floats; default: every activation non-zero, the slowest case)")
    add_compression_args(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--capacity", action="store_true",
                   help="print every board's default build capacity (docs/boards.md) and exit")
    p.add_argument("--update", metavar="DOC",
                   help="with --capacity: replace the table between the capacity markers of DOC "
                        "(docs/boards.md) instead of printing it")


def _load(args, params):
    model = load_model(args.model)
    if isinstance(model, CompressedModel):
        return model, "compressed"
    from ..compress import compress_model
    sparsity = parse_sparsity(args.sparsity, [l.name for l in model.layers])
    model = compress_model(model, sparsity=sparsity, bits=args.bits, pes=params.n_pes,
                           balance=args.balance)
    return model, f"float, compressed here (sparsity {args.sparsity}, {args.bits} bits)"


def run(args):
    from ...boards.board import get_board, board_names
    from ...boards.capacity import memory_blocks, capacity_table
    from ..fit import fit, options_text, inference_cycles
    from ..packer import pack
    if args.capacity:
        table = capacity_table([get_board(n) for n in board_names()])
        if not args.update:
            print(table)
            return 0
        from pathlib import Path
        from ...boards.capacity import replace_doc_section
        from ..atomic import atomic_file
        doc = Path(args.update)
        try:
            text = replace_doc_section(doc.read_text(), table)
        except OSError as exc:
            raise EiegenError(f"{doc}: cannot read it ({exc})") from None
        except ValueError as exc:
            raise EiegenError(f"{doc}: {exc}") from None
        with atomic_file(doc, "w") as f:
            f.write(text)
        print(f"updated the capacity table of {doc}")
        return 0
    if args.update:
        raise EiegenError("--update goes with --capacity")
    if not args.model or not args.board:
        raise EiegenError("give a model and --board (or --capacity)")
    board = get_board(args.board)
    params = board.eie_params()
    model, kind = _load(args, params)
    res = fit(model, params)
    shapes = "-".join([str(model.layers[0].shape[1])] + [str(l.shape[0]) for l in model.layers])
    out = {"board": board.name, "model": args.model, "kind": kind, "shape": shapes,
           "params": params.to_dict(), "fits": res.fits,
           "needs": [{"memory": n.field, "option": n.option, "need": n.need, "have": n.have,
                      "ok": n.ok} for n in res.needs]}
    lines = [f"eiegen fit: {args.model} ({kind}, {len(model.layers)} layers {shapes}) on "
             f"{board.title}, default EIE build: {params.n_pes} PE(s) at "
             f"{board.design_hz('eie') / 1e6:g} MHz",
             f"  {'memory':12s} {'needs':>8s} {'has':>8s}",
             *[f"  {n.field:12s} {n.need:8d} {n.have:8d}  {'ok' if n.ok else 'TOO SMALL'}  "
               f"({n.what})" for n in res.needs]]
    image_params = params
    cannot = None
    if res.fits:
        lines.append(f"fits the default build: eiegen pack {args.model} -o IMAGE --board "
                     f"{board.name}; eiegen build --board {board.name} [--image IMAGE]")
    elif res.fitted is None:
        worst = max(res.short, key=lambda n: n.need / n.have)
        cannot = (f"{worst.field} would have to be {worst.need}, beyond what an EIE array may "
                  f"have ({worst.what})")
    else:
        have = memory_blocks(board, params)
        want = memory_blocks(board, res.fitted)
        avail = {"bram": board.resources.bram, "spram": board.resources.spram}
        over = [k for k in ("bram", "spram") if want[k] > avail[k]]
        out["blocks"] = {"default": {k: have[k] for k in avail}, "fitted": {k: want[k] for k in avail},
                         "available": avail}
        if over:
            k = over[0]
            grew = max(want["by_memory"], key=lambda m: (want["by_memory"][m][k == "spram"]
                                                         - have["by_memory"][m][k == "spram"]))
            label = "block RAMs" if k == "bram" else "SPRAMs"
            cannot = (f"with {options_text(res.options())} the array needs about {want[k]} "
                      f"{label} (the {grew} memories most), the device has {avail[k]}: short by "
                      f"{want[k] - avail[k]}")
        else:
            opts = options_text(res.options())
            out["options"] = res.options()
            lines += [f"does not fit the default build; it fits with {opts}:",
                      f"  eiegen pack {args.model} -o IMAGE --board {board.name} {opts}",
                      f"  eiegen build --board {board.name} --image IMAGE      "
                      f"(or: eiegen build --board {board.name} {opts})",
                      f"  memory estimate: {want['bram']} of {avail['bram']} block RAMs"
                      + (f", {want['spram']} of {avail['spram']} SPRAMs" if avail["spram"] else "")
                      + "; the build checks logic and timing"]
            image_params = res.fitted
    if cannot:
        out["cannot"] = cannot
        lines.append(f"cannot fit the {board.name}: {cannot}")
    else:
        image = pack(model, image_params)
        x = None
        if args.input:
            from .golden import load_input
            x = load_input(args.input, image)
        mean, lo, hi = inference_cycles(image, image_params.fifo_depth, x)
        rate = board.design_hz('eie') / mean
        out.update(cycles={"mean": mean, "min": lo, "max": hi,
                           "inputs": "given" if x is not None else "all non-zero"},
                   inferences_per_s=rate, clock_hz=board.design_hz('eie'))
        how = (f"mean of {len(x) if x.ndim == 2 else 1} input(s), {lo} .. {hi}" if x is not None
               else "every activation non-zero: the slowest case")
        lines.append(f"cycles per inference (cycle model): {mean:.0f} ({how}); "
                     f"{rate:,.0f} inferences/s at {board.design_hz('eie') / 1e6:g} MHz")
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("\n".join(lines))
    return 0 if not cannot else 1
