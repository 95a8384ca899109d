"""Benchmarks run by `make bench` / `eiegen bench`.

One module per benchmark. Each defines TITLE (one line), ORDER (int, sort key)
and run(quick: bool, out_dir: pathlib.Path) -> None, which prints its tables
(measured figures beside a baseline, as ratios) and saves plots in out_dir.
"""

import importlib
import inspect
import pkgutil

__all__ = ["discover", "module_estimate", "run_module"]


def discover():
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "run"):
            mods.append((info.name, mod))
    mods.sort(key=lambda nm: (getattr(nm[1], "ORDER", 100), nm[0]))
    return mods


def _accepts(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def module_estimate(mod, quick, full):
    """[(step, seconds)] of one benchmark, or None when it gives no estimate."""
    est = getattr(mod, "estimate", None)
    if est is None:
        return None
    return est(quick=quick, full=full) if _accepts(est, "full") else est(quick=quick)


def run_module(mod, quick, full, out, log):
    kw = {}
    if _accepts(mod.run, "full"):
        kw["full"] = full
    if _accepts(mod.run, "log"):
        kw["log"] = log
    return mod.run(quick=quick, out_dir=out, **kw)
