"""Every numeric option of every command is range-checked while the command
line is parsed: a value out of range is an argparse error naming the option
(exit status 2, no traceback), before any work or output."""

import argparse

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams, RANGES as EIE_RANGES
from eiegen.hw.systolic.params import SystolicParams, RANGES as SYSTOLIC_RANGES
from eiegen.sw.cli import build_parser, main


def _subparsers(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _subparsers(sub, prefix + (name,))


def _numeric_options():
    for path, sub in _subparsers(build_parser()):
        for action in sub._actions:
            if action.option_strings and action.type is not None and action.type not in (str,):
                yield path, sub, action


def _required_args(sub, skip):
    """Dummy values for the required options and positionals of `sub` (argparse
    checks types as it meets them, so the values need not exist)."""
    argv = []
    for action in sub._actions:
        if action is skip or isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        value = action.choices[0] if action.choices else "dummy"
        if not action.option_strings:
            argv.append(str(value))
        elif action.required:
            argv += [action.option_strings[0], str(value)]
    return argv


def test_no_bare_int_or_float_options():
    """A bare `type=int` would let -5 or 0 through to the generator or a model."""
    bare = [f"{' '.join(path)} {a.option_strings[0]}" for path, _, a in _numeric_options()
            if a.type in (int, float) or not hasattr(a.type, "range")]
    assert bare == []


def test_generator_parameter_options_use_the_generators_tables():
    seen = set()
    for _, _, action in _numeric_options():
        name = getattr(action.type, "param", None)
        if name is not None:
            assert action.type.table in (EIE_RANGES, SYSTOLIC_RANGES)
            assert action.type.range == action.type.table[name], (action.option_strings, name)
            seen.add(name)
    assert {"n_pes", "fifo_depth", "frac", "spmat_depth", "rows", "cols", "ub_depth"} <= seen


def test_the_tables_are_what_the_generators_enforce():
    for name, (lo, hi) in EIE_RANGES.items():
        base = EIEParams(frac=0, acc_width=64, entries_per_word=1) if name in ("acc_width", "frac") else EIEParams()
        for bad in (lo - 1, hi + 1):
            with pytest.raises(ValueError, match=name):
                base.replace(**{name: bad})
    for name, (lo, hi) in SYSTOLIC_RANGES.items():
        kw = SystolicParams().to_dict()
        if name == "acc_width":
            kw["in_width"] = 2
        for bad in (lo - 1, hi + 1):
            kw[name] = bad
            with pytest.raises(ValueError, match=name):
                SystolicParams(**kw)


@pytest.mark.parametrize("case", [
    (path, action.option_strings[0], bad)
    for path, sub, action in _numeric_options()
    for bad in [v for v in ((action.type.range[0] - 1) if action.type.range[0] is not None else None,
                            (action.type.range[1] + 1) if action.type.range[1] is not None else None,
                            "x")
                if v is not None]
], ids=lambda c: f"{'-'.join(c[0])}{c[1]}={c[2]}")
def test_out_of_range_values_are_refused_by_name(case, capsys):
    path, option, bad = case
    sub = dict(_subparsers(build_parser()))[path]
    action = next(a for a in sub._actions if option in a.option_strings)
    argv = list(path) + _required_args(sub, action) + [f"{option}={bad}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"argument {'/'.join(action.option_strings)}" in err or option in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("depth", ["-5", "0", "65"])
def test_golden_fifo_depth_out_of_range_writes_nothing(cli, image, tmp_path, depth):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros(30))
    y = tmp_path / "y.npy"
    rc, out, err = cli("golden", image, "--input", x, "-o", y, "--cycles", "--fifo-depth", depth)
    assert rc == 2 and not y.exists() and out == ""
    assert err == f"eiegen golden: error: argument --fifo-depth: fifo_depth must be in [1, 64], got {depth} " \
                  "(see eiegen golden --help)\n"
