"""The host bus: how the host link reaches the memories and registers of a unit.

One bus, driven by the host link (hw/common/hostlink.py), served by each unit
(EIE array, systolic unit, board top-level). Word-addressed, 64-bit data:

    addr[31:24]  target  (a memory or register file; ids in hw/eie/params.py
                          MEMORY_IDS for EIE, 0x20-0x2F for the systolic unit,
                          0xF0-0xFF for the board / link itself)
    addr[23:16]  PE index (or bank) where the target is replicated, else 0
    addr[15:0]   word index inside that memory

A write is one cycle of `we` with addr and wdata; the unit always takes it.
A read is one cycle of `re`; the unit answers with `rvalid` and `rdata` one
or more cycles later (one read in flight at a time). Combinationally, for the
current `addr`, the unit says whether that word exists (`addr_ok`) and how
many bytes a word of that target has on the link (`word_bytes`, 1 to 8): the
link refuses frames that touch words that do not exist, and packs/unpacks
words as `word_bytes` little-endian bytes.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["HostBusSignature"]


class HostBusSignature(wiring.Signature):
    """Host bus, from the point of view of the initiator (the host link).
    A unit serving the bus has `In(HostBusSignature())`."""

    def __init__(self, addr_width=32, data_width=64):
        super().__init__({
            "addr": Out(addr_width),
            "wdata": Out(data_width),
            "we": Out(1),
            "re": Out(1),
            "rdata": In(data_width),
            "rvalid": In(1),
            "addr_ok": In(1),
            "word_bytes": In(4),
        })
