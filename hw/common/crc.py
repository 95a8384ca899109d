"""CRC generators for the host link.

One byte per cycle (`crc_next`): the next register value is a GF(2)-linear
function of the register and the byte, worked out here in Python (eight
shift steps done symbolically) so the hardware is one XOR tree per register
bit. One bit per cycle (`crc_next_bit`): one XOR per polynomial tap, for a
datapath that has eight cycles per byte anyway.

Defaults are CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first, no
output XOR; check value 0x29B1 for b"123456789"), the CRC of every host-link
frame. Because it is not reflected and has no output XOR, running it over a
frame *and* its CRC sent high byte first leaves 0 — the receiver checks
`value == 0`. The link's load checksum is CRC-32/ISO-HDLC (zlib.crc32):
`CRC(**CRC32)`.
"""

from functools import reduce
from operator import xor

from amaranth import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CRC", "CRC16_CCITT_FALSE", "CRC32", "crc_reference", "crc_step_matrix", "crc_next",
           "crc_next_bit", "crc_register_init"]

#: parameters of the frame CRC
CRC16_CCITT_FALSE = dict(width=16, poly=0x1021, init=0xFFFF, reflect=False, xorout=0)
#: parameters of the load checksum (the same as Python's zlib.crc32)
CRC32 = dict(width=32, poly=0x04C11DB7, init=0xFFFFFFFF, reflect=True, xorout=0xFFFFFFFF)


def _reflect(value, width):
    return int(f"{value:0{width}b}"[::-1], 2)


def crc_reference(data, *, width=16, poly=0x1021, init=0xFFFF, reflect=False, xorout=0):
    """Bit-at-a-time CRC of `data` (bytes): the obviously-right reference."""
    mask = (1 << width) - 1
    if reflect:
        rpoly = _reflect(poly, width)
        reg = _reflect(init, width)
        for byte in data:
            for i in range(8):
                fb = (reg ^ (byte >> i)) & 1
                reg >>= 1
                if fb:
                    reg ^= rpoly
        return reg ^ xorout
    reg = init
    for byte in data:
        for i in range(7, -1, -1):
            fb = ((reg >> (width - 1)) ^ (byte >> i)) & 1
            reg = (reg << 1) & mask
            if fb:
                reg ^= poly
    return reg ^ xorout


def crc_step_matrix(width, poly, reflect):
    """For each register bit after one byte: the register bits and data bits
    (as two frozensets of indices) whose XOR it is."""
    # each bit is a pair (set of register-bit indices, set of data-bit indices)
    reg = [(frozenset([i]), frozenset()) for i in range(width)]

    def x(a, b):
        return (a[0] ^ b[0], a[1] ^ b[1])

    zero = (frozenset(), frozenset())
    if reflect:
        rpoly = _reflect(poly, width)
        for i in range(8):
            fb = x(reg[0], (frozenset(), frozenset([i])))
            reg = reg[1:] + [zero]
            reg = [x(r, fb) if (rpoly >> k) & 1 else r for k, r in enumerate(reg)]
    else:
        for i in range(7, -1, -1):
            fb = x(reg[width - 1], (frozenset(), frozenset([i])))
            reg = [zero] + reg[:-1]
            reg = [x(r, fb) if (poly >> k) & 1 else r for k, r in enumerate(reg)]
    return reg


def crc_register_init(*, width, init, reflect, **_):
    """The register value a clear loads (init, reflected if the CRC is)."""
    return _reflect(init, width) if reflect else init


def crc_next(reg, data, *, width, poly, reflect, **_):
    """Amaranth expression: the CRC register after byte `data` (the register
    kept as the hardware keeps it: reflected for reflected CRCs; the CRC
    value is the register XOR xorout)."""
    bits = []
    for regs, datas in crc_step_matrix(width, poly, reflect):
        terms = [reg[i] for i in sorted(regs)] + [data[i] for i in sorted(datas)]
        bits.append(reduce(xor, terms) if terms else Const(0, 1))
    return Cat(*bits)


def crc_next_bit(reg, bit, *, width, poly, reflect, **_):
    """Amaranth expression: the CRC register after one more data bit (for a
    reflected CRC the bits of a byte go in least significant first, else
    most significant first). A bit-serial CRC is one XOR per set bit of the
    polynomial: what a link that has eight cycles per byte can afford."""
    if reflect:
        fb = reg[0] ^ bit
        return (reg >> 1) ^ Mux(fb, _reflect(poly, width), 0)
    fb = reg[width - 1] ^ bit
    return (reg << 1)[:width] ^ Mux(fb, poly, 0)


class CRC(wiring.Component):
    """CRC over a byte stream, one byte per cycle.

    Ports: `clear` (register := init this cycle; a byte given in the same
    cycle is the first byte after the clear), `valid` + `data` (a byte),
    `value` (the CRC of the bytes since the last clear: register, reflected
    or not as the register is kept, XOR `xorout`)."""

    def __init__(self, *, width=16, poly=0x1021, init=0xFFFF, reflect=False, xorout=0):
        if width < 8:
            raise ValueError(f"CRC width must be at least 8 bits, got {width}")
        self.width, self.poly, self.init, self.reflect, self.xorout = width, poly, init, reflect, xorout
        super().__init__({
            "clear": In(1),
            "valid": In(1),
            "data": In(8),
            "value": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        reg_init = crc_register_init(width=w, init=self.init, reflect=self.reflect)
        reg = Signal(w, init=reg_init)
        cur = Signal(w)
        m.d.comb += cur.eq(reg)
        with m.If(self.clear):
            m.d.comb += cur.eq(reg_init)
        nxt = crc_next(cur, self.data, width=w, poly=self.poly, reflect=self.reflect)
        with m.If(self.valid):
            m.d.sync += reg.eq(nxt)
        with m.Elif(self.clear):
            m.d.sync += reg.eq(reg_init)
        m.d.comb += self.value.eq(reg ^ self.xorout)
        return m
