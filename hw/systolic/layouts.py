"""Data layouts shared by the blocks of the systolic unit."""

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = ["weight_beat", "act_beat", "acc_ctl", "tag_width"]


def tag_width(rows):
    """Bits of a weight beat's row tag (at least 1)."""
    return max(1, (rows - 1).bit_length())


def weight_beat(params):
    """One weight travelling down a column of the array: the value, the PE
    row that keeps it (tag), and which of its two weight registers (bank)."""
    return data.StructLayout({
        "data": signed(params.in_width),
        "valid": unsigned(1),
        "bank": unsigned(1),
        "tag": unsigned(tag_width(params.rows)),
    })


def act_beat(params):
    """One activation travelling right along a row of the array, with the
    weight bank (sel) of the MMUL it belongs to."""
    return data.StructLayout({
        "data": signed(params.in_width),
        "sel": unsigned(1),
    })


def acc_ctl(params):
    """What the accumulators do with one array output row (it travels the
    pipeline's depth beside the row: the address is only as wide as the
    accumulators need)."""
    return data.StructLayout({
        "valid": unsigned(1),
        "accumulate": unsigned(1),
        "addr": unsigned(max(1, (params.acc_depth - 1).bit_length())),
    })
