"""lib.data layouts shared by the EIE blocks."""

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = ["queue_layout", "entry_layout", "codebook_layout", "descriptor_layout"]


def queue_layout(params):
    """An activation-queue item: the broadcast activation and the column's
    entries in this PE's sparse-matrix memory, `count` from `start`."""
    return data.StructLayout({
        "value": signed(16),
        "start": unsigned(params.ptr_width),
        "count": unsigned(params.count_width),
        "empty": unsigned(1),       # count == 0, decoded before the queue
        "single": unsigned(1),      # count == 1
    })


#: a sparse-matrix entry: 4-bit weight index, 4-bit zero count (docs/design.md)
entry_layout = data.StructLayout({"v": unsigned(4), "z": unsigned(4)})

#: the 16 codebook entries of the running layer, int16 each
codebook_layout = data.ArrayLayout(signed(16), 16)

#: the 64-bit layer descriptor (docs/image-format.md)
descriptor_layout = data.StructLayout({
    "in_local": unsigned(16),
    "out_local": unsigned(16),
    "ptr_base": unsigned(16),
    "bias_base": unsigned(15),
    "relu": unsigned(1),
})
