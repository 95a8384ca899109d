"""SPRAM: the RAM interface of hw/common/ram.py on iCE40UP single-port RAMs.

The iCE40UP5K has four SB_SPRAM256KA blocks of 16K x 16 bits beside its 30
block RAMs of 4 Kbit. Yosys infers them only for memories with one shared
address (`synth_ice40 -spram`), and eiegen's RAM has separate read and write
ports, so this component instantiates them: ceil(width / 16) blocks side by
side times ceil(depth / 16384) banks.

One address port serves both directions: the write address while `we` is
high, else the read address. So, unlike RAM:
- a cycle with `we` high performs no read: `rdata` in the next cycle is
  undefined (the block drives X), instead of the old word;
- the block has no initial contents: it cannot be baked into a bitstream or
  swapped with icebram; it is loaded over the host link after configuration.
These are harmless where writes only happen while the owner of the read port
is idle and nobody consumes the read data of a write cycle: the EIE PE's
sparse-matrix memory, written by the host only while the array is idle.

Elaborated without a platform (the Amaranth simulator), each block is
`SPRAMBlockModel`, a behavioural model of SB_SPRAM256KA as Yosys'
cells_sim.v describes it (nibble write mask, output held while the block is
not selected); its output after a write cycle, undefined in silicon, holds
the previous word.
"""

from amaranth import Module, Signal, Instance, ClockSignal, Const, Mux
from amaranth.lib.memory import Memory
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .ram import ram_signature

__all__ = ["SPRAM", "SPRAMBlockModel", "SPRAM_WORDS", "SPRAM_WIDTH", "spram_blocks"]

SPRAM_WORDS = 16384
SPRAM_WIDTH = 16


def spram_blocks(width, depth):
    """SB_SPRAM256KA blocks a width x depth memory needs."""
    return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_WORDS)


class SPRAMBlockModel(wiring.Component):
    """One SB_SPRAM256KA for the Amaranth simulator (ports as the primitive's,
    lower case; POWEROFF, SLEEP, STANDBY are not modelled: always on).

    Ports: `address` (In, 14 bits), `datain` (In, 16 bits), `maskwren` (In,
    a write enable per nibble), `wren` (In), `chipselect` (In); `dataout`
    (Out). With `chipselect` and `wren`, the nibbles of `maskwren` are written
    at the end of the cycle; with `chipselect` alone, `dataout` is the word at
    `address` one cycle later (latency 1) and holds it until the next read.
    """

    def __init__(self):
        super().__init__({
            "address": In(14), "datain": In(16), "maskwren": In(4), "wren": In(1),
            "chipselect": In(1), "dataout": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=16, depth=SPRAM_WORDS, init=[])
        rd = mem.read_port(domain="comb")
        wr = mem.write_port(granularity=4)
        m.d.comb += [rd.addr.eq(self.address), wr.addr.eq(self.address), wr.data.eq(self.datain)]
        with m.If(self.chipselect & self.wren):
            m.d.comb += wr.en.eq(self.maskwren)
        with m.Elif(self.chipselect):
            m.d.sync += self.dataout.eq(rd.data)
        return m


class SPRAM(wiring.Component):
    """Ports as RAM: raddr/rdata (one cycle of read latency), waddr/wdata/we."""

    def __init__(self, *, width, depth, name=None):
        if depth < 1 or width < 1:
            raise ValueError(f"SPRAM {name!r}: width and depth must be positive, got {width} x {depth}")
        self.width, self.depth, self.name = width, depth, name
        self.abits = max(1, ceil_log2(depth))
        self.blocks = spram_blocks(width, depth)
        super().__init__(ram_signature(width, self.abits))

    def elaborate(self, platform):
        m = Module()
        lanes = -(-self.width // SPRAM_WIDTH)
        banks = -(-self.depth // SPRAM_WORDS)
        addr = Signal(self.abits)
        m.d.comb += addr.eq(Mux(self.we, self.waddr, self.raddr))
        low = Signal(14)
        m.d.comb += low.eq(addr[:min(self.abits, 14)])
        bank = addr[14:] if self.abits > 14 else Const(0, 1)
        bank_q = Signal(max(1, len(bank)))
        m.d.sync += bank_q.eq(bank)
        wdata = Signal(lanes * SPRAM_WIDTH)
        m.d.comb += wdata.eq(self.wdata)
        outs = []
        for b in range(banks):
            sel = Signal(name=f"sel{b}")
            m.d.comb += sel.eq(bank == b)
            dout = Signal(lanes * SPRAM_WIDTH, name=f"dout{b}")
            for lane in range(lanes):
                if platform is None:
                    m.submodules[f"spram_b{b}_l{lane}"] = blk = SPRAMBlockModel()
                    m.d.comb += [
                        blk.address.eq(low), blk.maskwren.eq(0b1111),
                        blk.datain.eq(wdata[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH]),
                        blk.wren.eq(self.we & sel), blk.chipselect.eq(sel),
                        dout[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH].eq(blk.dataout),
                    ]
                    continue
                m.submodules[f"spram_b{b}_l{lane}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=low,
                    i_DATAIN=wdata[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH],
                    i_MASKWREN=Const(0b1111, 4),
                    i_WREN=self.we & sel,
                    i_CHIPSELECT=sel,
                    i_CLOCK=ClockSignal(),
                    i_STANDBY=Const(0, 1),
                    i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1),
                    o_DATAOUT=dout[lane * SPRAM_WIDTH:(lane + 1) * SPRAM_WIDTH])
            outs.append(dout)
        if banks == 1:
            m.d.comb += self.rdata.eq(outs[0])
        else:
            with m.Switch(bank_q):
                for b, dout in enumerate(outs):
                    with m.Case(b):
                        m.d.comb += self.rdata.eq(dout)
        return m
