"""Signed 16-bit fixed point with FRAC fractional bits (docs/design.md, "EIE number formats")."""

import numpy as np

__all__ = ["INT16_MIN", "INT16_MAX", "to_fixed", "from_fixed", "sat", "round_shift",
           "writeback", "acc_bounds"]

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def to_fixed(x, frac):
    """Float -> int16 code: round half away from zero (numpy.rint is half-to-even;
    we use floor(x * 2**frac + 0.5), round half up), saturated."""
    x = np.asarray(x, dtype=np.float64)
    q = np.floor(x * (1 << frac) + 0.5)
    return np.clip(q, INT16_MIN, INT16_MAX).astype(np.int16)


def from_fixed(q, frac):
    return np.asarray(q, dtype=np.float64) / (1 << frac)


def acc_bounds(acc_width):
    return -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1


def sat(x, width):
    lo, hi = acc_bounds(width)
    return np.clip(x, lo, hi)


def round_shift(acc, frac):
    """Round to nearest by adding half an LSB, then arithmetic shift right by frac."""
    acc = np.asarray(acc, dtype=np.int64)
    if frac == 0:
        return acc
    return (acc + (1 << (frac - 1))) >> frac


def writeback(acc, frac, relu):
    """Accumulator -> int16 activation: round, shift, saturate to int16, ReLU."""
    y = np.clip(round_shift(acc, frac), INT16_MIN, INT16_MAX)
    if relu:
        y = np.maximum(y, 0)
    return y.astype(np.int16)
