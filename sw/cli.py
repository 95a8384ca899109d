"""The `eiegen` command: subcommands are the modules of eiegen.sw.commands."""

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .errors import EiegenError

__all__ = ["main", "build_parser"]


def _command_modules():
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return mods


class _Parser(argparse.ArgumentParser):
    """One line for a bad command line, as for every other error: what is
    wrong and where (the option), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = _Parser(
        prog="eiegen",
        description="Deep Compression, EIE and a TPU-style systolic unit on FPGAs.")
    from .. import __version__
    parser.add_argument("--version", action="version", version=f"eiegen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _name=mod.NAME)
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):  # --help, --version
            raise
        return 2                   # a bad command line: argparse printed the one-line error
    try:
        return int(args._run(args) or 0)
    except EiegenError as exc:
        print(f"eiegen {args._name}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:         # the file system said no (permissions, a full disk, ...)
        where = f": '{exc.filename}'" if exc.filename else ""
        print(f"eiegen {args._name}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eiegen {args._name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
