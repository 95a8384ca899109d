"""`eiegen bench`: run the benchmarks and print their tables."""

import datetime
import json
import os
import resource
import time
from pathlib import Path

from ..errors import EiegenError
from ._common import add_force

NAME = "bench"
HELP = "run the benchmarks (tables printed, plots saved under build/bench/)"
DESCRIPTION = """Run the benchmarks (all, or those named) and print their tables: measured
figures beside a baseline, plots and JSON in --out. Before it starts, the
command prints what it will run and an estimate of how long it takes (the
compute measured on a 2-core machine plus every simulator build that is not
cached yet); each benchmark prints a line per step.

  (default)   what `make bench` runs: a few minutes once the simulator
              builds are cached (first run: plus one Verilator build)
  --quick     smaller problem sizes: a smoke run
  --full      the slow sweeps too: the EIE speed on a larger layer, the
              FIFO-depth and PE-count sweeps measured on the RTL (eight
              Verilator builds), the systolic unit up to 16 x 16 on the
              RTL; README.md says how long a --full run takes

examples:
  eiegen bench --list
  eiegen bench eie --quick
  eiegen bench --full"""


def add_arguments(p):
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all but the slow ones "
                                            "marked in --list, e.g. qor); see --list")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--quick", action="store_true", help="smaller problem sizes (for a smoke run)")
    p.add_argument("--full", action="store_true",
                   help="also the slow sweeps (RTL sweeps with many simulator builds)")
    p.add_argument("-o", "--out", default="build/bench", help="folder for plots and JSON (default %(default)s)")
    add_force(p, "folder (bench adds and replaces its own files in it, never removes others)")


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def run(args):
    from ..bench import discover, module_estimate, run_module
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
    from ..atomic import BENCH_MARKER, check_output
    out = Path(args.out)
    check_output(out, "bench-output", force=args.force)
    # with no names: all but the slow ones (DEFAULT = False, e.g. qor: place and route)
    chosen = [(name, mod) for name, mod in mods
              if name in args.names or (not args.names and getattr(mod, "DEFAULT", True))]
    mode = "quick" if args.quick else "default"
    if args.full:
        mode += " + full"
    estimates = [(name, module_estimate(mod, args.quick, args.full)) for name, mod in chosen]
    total = sum(sum(s for _, s in e) for _, e in estimates if e)
    print(f"eiegen bench ({mode}): {', '.join(n for n, _ in chosen)}; estimated {_minutes(total)} on an "
          f"otherwise idle 2-core machine (load average now {os.getloadavg()[0]:.1f}: more load, longer)",
          flush=True)
    for name, e in estimates:
        if e is None:
            print(f"  {name:10s} (no estimate)")
        else:
            print(f"  {name:10s} ~{_minutes(sum(s for _, s in e)):>7s}: "
                  + "; ".join(f"{step} ~{_minutes(s)}" for step, s in e), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / BENCH_MARKER).write_text("eiegen bench writes its plots and tables here\n")
    t_all = time.perf_counter()
    load_start = os.getloadavg()[0]
    not_cached = sum(int(step.split()[0]) for _, e in estimates if e
                     for step, _ in e if step.endswith("build(s) not cached"))
    took = {}
    for k, (name, mod) in enumerate(chosen, 1):
        print(f"\n=== [{k}/{len(chosen)}, {time.perf_counter() - t_all:.0f} s] {name}: "
              f"{getattr(mod, 'TITLE', '')} ===", flush=True)
        t0 = time.perf_counter()
        run_module(mod, args.quick, args.full, out, lambda s: print(s, flush=True))
        est = dict(estimates)[name]
        took[name] = round(time.perf_counter() - t0, 1)
        print(f"--- {name} took {time.perf_counter() - t0:.1f} s"
              + (f" (estimated {sum(s for _, s in est):.0f} s)" if est else ""), flush=True)
    seconds = time.perf_counter() - t_all
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    record = {"mode": mode, "benchmarks": list(took), "seconds": round(seconds, 1),
              "seconds_per_benchmark": took, "estimated_seconds": round(total, 1),
              "cpu_seconds": round(sum(u.ru_utime + u.ru_stime for u in usage), 1),
              "load_average_start": load_start, "load_average_end": os.getloadavg()[0],
              "builds_not_cached": not_cached, "date": datetime.date.today().isoformat()}
    if not args.names and not args.quick:
        # how long a whole run took, for the README (make docs-figures)
        name = "bench-run-full.json" if args.full else "bench-run.json"
        (out / name).write_text(json.dumps(record, indent=1) + "\n")
    print(f"\neiegen bench: {len(chosen)} benchmark(s) in {_minutes(seconds)} "
          f"({_minutes(record['cpu_seconds'])} of CPU; estimated {_minutes(total)}); plots and JSON in {out}/")
    return 0
