"""Identify ROM: the bytes the host link answers IDENTIFY with.

Built from a design tag (such as "eie" or "systolic"), a dict of the unit's
generator parameters (small non-negative integers) and the link's own
fields; the byte layout is eiegen.sw.link.protocol.encode_identify
(docs/host-link.md, "IDENTIFY"), so the host decodes exactly what the
generator wrote. A read-only lib.memory.Memory, one byte per address, read
synchronously (data one cycle after addr).
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...sw.link.protocol import encode_identify

__all__ = ["IdentifyROM"]


class IdentifyROM(wiring.Component):
    """Ports: `addr`, `data` (the byte at the previous cycle's addr).
    Attributes: `contents` (bytes), `length`."""

    def __init__(self, design, params, link=None):
        self.contents = encode_identify(design, dict(params), dict(link or {}))
        self.length = len(self.contents)
        super().__init__({
            "addr": In(range(self.length)),
            "data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = Memory(shape=8, depth=self.length, init=list(self.contents))
        rp = rom.read_port()
        m.d.comb += [rp.addr.eq(self.addr), self.data.eq(rp.data)]
        return m
