"""Benchmarks run by `make bench` / `eiegen bench`.

One module per benchmark. Each defines TITLE (one line), ORDER (int, sort key)
and run(quick: bool, out_dir: pathlib.Path) -> None, which prints its tables
(measured figures beside a baseline, as ratios) and saves plots in out_dir.
"""

import importlib
import pkgutil

__all__ = ["discover"]


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
