"""`eiegen bench`: run the benchmarks and print their tables."""

import time
from pathlib import Path

from ..errors import EiegenError
from ._common import add_force

NAME = "bench"
HELP = "run the benchmarks (tables printed, plots saved under build/bench/)"


def add_arguments(p):
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all); see --list")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--quick", action="store_true", help="smaller problem sizes (for a smoke run)")
    p.add_argument("-o", "--out", default="build/bench", help="folder for plots and JSON (default %(default)s)")
    add_force(p, "folder (bench adds and replaces its own files in it, never removes others)")


def run(args):
    from ..bench import discover
    mods = discover()
    if args.list:
        for name, mod in mods:
            print(f"{name:20s} {getattr(mod, 'TITLE', '')}")
        return 0
    known = {name for name, _ in mods}
    for n in args.names:
        if n not in known:
            raise EiegenError(f"unknown benchmark '{n}'; known: {', '.join(sorted(known))}")
    from ..atomic import BENCH_MARKER, check_output
    out = Path(args.out)
    check_output(out, "bench-output", force=args.force)
    out.mkdir(parents=True, exist_ok=True)
    (out / BENCH_MARKER).write_text("eiegen bench writes its plots and tables here\n")
    for name, mod in mods:
        if args.names and name not in args.names:
            continue
        print(f"\n=== {name}: {getattr(mod, 'TITLE', '')} ===", flush=True)
        t0 = time.perf_counter()
        mod.run(quick=args.quick, out_dir=out)
        print(f"--- {name} took {time.perf_counter() - t0:.1f} s", flush=True)
    return 0
