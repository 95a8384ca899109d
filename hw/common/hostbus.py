"""The host bus: how the host link reaches the memories and registers of a unit.

One bus, driven by the host link (hw/common/hostlink.py), served by each unit
(EIE array, systolic unit, board top-level). Word-addressed, 64-bit data:

    addr[31:24]  target  (a memory or register file; ids in hw/eie/params.py
                          MEMORY_IDS for EIE, 0x20-0x2F for the systolic unit,
                          0xF0-0xFF for the board / link itself)
    addr[23:16]  PE index (or bank) where the target is replicated, else 0
    addr[15:0]   word index inside that memory

The contract between the initiator (the link) and a unit (lead's decision,
2026-12-01), which every unit may rely on and the link obeys:

- the initiator drives `addr`, `wdata`, `we` and `re` straight from
  registers (no adder or decoder in front of the bus), and holds `addr` for
  at least two cycles before a cycle of `we` or `re`;
- `addr_ok` (does this word exist) and `word_bytes` (bytes a word of this
  target has on the link, 1 to 8) are functions of `addr` only; the unit may
  register them once, so the initiator samples them no earlier than the
  second cycle `addr` has been stable. The link refuses frames that touch
  words that do not exist, and packs/unpacks words as `word_bytes`
  little-endian bytes;
- a write is one cycle of `we` with `addr` and `wdata`; the unit always
  takes it and may register it (a read issued two or more cycles after a
  write returns the written word);
- a read is one cycle of `re`; `rvalid` and `rdata` come 1 .. bus_timeout
  cycles later (255 unless the board says otherwise); one read in flight.

Beside the bus, a unit has `start` (In, a one-cycle pulse), `busy` and
`done` (Out), `abort` (In, a one-cycle pulse: within 64 cycles the unit is
idle, busy and done low, whatever it was doing; model memories keep their
contents; while idle it has no effect) and `config_ok` (Out: a start now
would run a valid configuration; a start while it is low does nothing). The
link answers RUN with BAD_CONFIG while `config_ok` is low, pulses `abort` on
ABORT and when a run exceeds its watchdog (docs/host-link.md).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

#: cycles the initiator holds `addr` before a cycle of `we` or `re` (the contract above)
ADDR_SETUP = 2

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
