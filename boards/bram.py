"""Block RAMs whose contents can be baked into a bitstream or swapped later.

On a board, every named RAM of hw/common/ram.py that is not in SPRAM becomes
a `BlockRAM`: a lib.memory.Memory forced into block RAM (`ram_style =
"block"`), padded so that the weight-swap tools can find it in the placed
design:

- depth: a multiple of the family's swap granule (icebram compares bit
  slices of 256 words, ecpbram of 512);
- width: a multiple of 4 bits (hex files hold 4 bits a digit; a slice the
  hex file names but the block RAM lacks would never be found).

Its contents are an image's words (baked, `eiegen build --image`) or a
random placeholder, one per RAM, that `eiegen swap` later replaces with an
image without re-running place and route. `placeholder_words` makes every
bit slice of every RAM of a build distinct, which icebram and ecpbram need to
tell the memories apart.
"""

import hashlib

import numpy as np
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.utils import ceil_log2

from ..hw.common.ram import ram_signature, sync_read

__all__ = ["BlockRAM", "padded_geometry", "placeholder_words", "bit_slices", "hex_text", "parse_hex"]


def padded_geometry(width, depth, granule):
    """(width, depth) of the stored memory: width up to a multiple of 4,
    depth up to a multiple of `granule`."""
    return -(-width // 4) * 4, -(-depth // granule) * granule


def placeholder_words(name, width, depth, seed=0):
    """Random words (python ints) for RAM `name`: the same for the same
    (name, geometry, seed), different for different names."""
    digest = hashlib.sha256(f"eiegen-placeholder:{seed}:{name}:{width}x{depth}".encode()).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))
    nbytes = -(-width // 8)
    raw = rng.integers(0, 256, size=(depth, nbytes), dtype=np.uint8)
    mask = (1 << width) - 1
    return [int.from_bytes(row.tobytes(), "little") & mask for row in raw]


def bit_slices(words, width, granule):
    """The swap tools' view of a memory: for every bit and every `granule`
    consecutive words, the tuple of that bit over those words."""
    out = []
    for bit in range(width):
        col = [(w >> bit) & 1 for w in words]
        for base in range(0, len(col), granule):
            out.append(tuple(col[base:base + granule]))
    return out


def hex_text(words, width):
    d = max(1, -(-width // 4))
    return "".join(f"{int(w):0{d}x}\n" for w in words)


def parse_hex(text, width, where):
    """Words of a $readmemh file of `width`-bit words (one a line)."""
    from ..sw.errors import ImageError
    words = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            w = int(line, 16)
        except ValueError:
            raise ImageError(f"{where}:{n}: not a hex word: {line[:40]!r}") from None
        if w >> width:
            raise ImageError(f"{where}:{n}: word 0x{line} is wider than {width} bits")
        words.append(w)
    return words


class BlockRAM(wiring.Component):
    """The RAM interface (raddr/rdata with one cycle of latency, read before
    write on a collision; waddr/wdata/we) on a block-RAM Memory of
    `store_width` x `store_depth` words (>= width x depth) initialised with
    `init` (a list of at most store_depth words)."""

    def __init__(self, *, width, depth, store_width, store_depth, init=(), name=None):
        if store_width < width or store_depth < depth:
            raise ValueError(f"BlockRAM {name!r}: storage {store_width} x {store_depth} is smaller "
                             f"than {width} x {depth}")
        self.width, self.depth, self.name = width, depth, name
        self.store_width, self.store_depth = store_width, store_depth
        self.abits = max(1, ceil_log2(depth))
        self.init = list(init)
        if len(self.init) > store_depth:
            raise ValueError(f"BlockRAM {name!r}: {len(self.init)} initial words for {store_depth}")
        super().__init__(ram_signature(width, self.abits))

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.store_width, depth=self.store_depth,
                                        init=self.init, attrs={"ram_style": "block", "no_rw_check": 1})
        data = Signal(self.store_width)
        sync_read(m, mem, self.raddr, data)
        wr = mem.write_port()
        m.d.comb += [
            self.rdata.eq(data[:self.width]),
            wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we),
        ]
        return m
