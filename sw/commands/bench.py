"""`eiegen bench`: run the benchmarks and print their tables."""

import time
from pathlib import Path

from ..errors import EiegenError

NAME = "bench"
HELP = "run the benchmarks (tables printed, plots saved under build/bench/)"


def add_arguments(p):
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all but the slow ones "
                                            "marked in --list, e.g. qor); see --list")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--quick", action="store_true", help="smaller problem sizes (for a smoke run)")
    p.add_argument("-o", "--out", default="build/bench", help="folder for plots and JSON (default %(default)s)")


def run(args):
    from ..bench import discover
    mods = discover()
    if args.list:
        for name, mod in mods:
            extra = "" if getattr(mod, "DEFAULT", True) else "  [only when named]"
            print(f"{name:20s} {getattr(mod, 'TITLE', '')}{extra}")
        return 0
    known = {name for name, _ in mods}
    for n in args.names:
        if n not in known:
            raise EiegenError(f"unknown benchmark '{n}'; known: {', '.join(sorted(known))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, mod in mods:
        if args.names and name not in args.names:
            continue
        if not args.names and not getattr(mod, "DEFAULT", True):
            continue                    # slow ones (qor: place and route) run only when named
        print(f"\n=== {name}: {getattr(mod, 'TITLE', '')} ===", flush=True)
        t0 = time.perf_counter()
        mod.run(quick=args.quick, out_dir=out)
        print(f"--- {name} took {time.perf_counter() - t0:.1f} s", flush=True)
    return 0
