"""Where eiegen keeps caches and scratch: one place, documented in README.md.

    $EIEGEN_CACHE                 when set;
    <checkout>/build              when eiegen runs from a source checkout (the
                                  editable install `make venv` makes);
    $XDG_CACHE_HOME/eiegen        otherwise (~/.cache/eiegen).

Simulator builds (sim/), their run folders and other scratch live there,
never in the current directory by surprise. Outputs a command is asked for
(-o/--out) go where the command line says.
"""

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir", "checkout_root"]

CACHE_ENV = "EIEGEN_CACHE"

#: the folder of the `eiegen` package (the repository root in a checkout)
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def checkout_root():
    """The source checkout eiegen runs from, or None for an installed copy."""
    root = _PACKAGE_ROOT
    if (root / "pyproject.toml").is_file() and (root / "Makefile").is_file():
        return root
    return None


def cache_dir(*parts):
    """The cache folder (see the module docstring), joined with `parts`; not created."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        root = Path(env).expanduser()
    elif checkout_root() is not None:
        root = checkout_root() / "build"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        root = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "eiegen"
    return root.joinpath(*parts)
