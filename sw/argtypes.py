"""argparse types that check a number's range while the command line is parsed.

An out-of-range or malformed value becomes an argparse error naming the
option (exit status 2, no traceback), before the command does any work or
writes anything. The generator parameters take their ranges from the
generators' own tables (eiegen.sw.commands._common.eie_param, systolic_param).
"""

import argparse
import math

__all__ = ["int_in", "float_in", "range_text"]


def range_text(lo, hi):
    if lo is not None and hi is not None:
        return f"{lo}..{hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def int_in(lo=None, hi=None, *, name=None):
    """An argparse type: an integer in [lo, hi] (either bound may be None).
    With `name` (a generator parameter) the message is the generator's own."""
    def integer(text):
        try:
            v = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if name is not None:
                raise argparse.ArgumentTypeError(f"{name} must be in [{lo}, {hi}], got {v}")
            raise argparse.ArgumentTypeError(f"must be {range_text(lo, hi)}, got {v}")
        return v
    integer.range = (lo, hi)
    return integer


def float_in(lo=None, hi=None, *, above=None):
    """An argparse type: a finite number in [lo, hi], or > above."""
    def number(text):
        try:
            v = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if above is not None and v <= above:
            raise argparse.ArgumentTypeError(f"must be greater than {above:g}, got {v:g}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {range_text(lo, hi)}, got {v:g}")
        return v
    number.range = (lo if above is None else above, hi)
    return number
