"""RAM: a simple dual-port memory that an image initialises.

One synchronous read port (one cycle of latency, old data on a same-address
collision with the write) and one write port. How it is built depends on the
platform the design is elaborated for:

- no platform (Amaranth simulator, plain conversion): lib.memory.Memory,
  optionally with `init` contents;
- a platform with `eiegen_ram = "readmemh"` (cocotb builds, boards): an
  instance of the hand-written eiegen_ram.v, which loads `<NAME>.hex` from the
  folder given by the plusarg +eiegen_mem=<dir> in simulation, or bakes
  `<platform.eiegen_mem_dir>/<NAME>.hex` in at synthesis — so one simulator
  build runs every image and a bitstream can carry its weights in block RAM.
"""

from pathlib import Path

from amaranth import Module, Instance, ClockSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["RAM", "ram_signature", "VERILOG_SOURCE", "verilog_source_path", "ReadmemhPlatform"]

VERILOG_SOURCE = Path(__file__).with_name("eiegen_ram.v")


def verilog_source_path():
    return VERILOG_SOURCE


class ReadmemhPlatform:
    """The minimal platform object for simulation builds of eiegen designs."""
    eiegen_ram = "readmemh"
    eiegen_mem_dir = None


def ram_signature(width, abits):
    """The ports every eiegen RAM implementation has (RAM and what a board's
    eiegen_ram_override puts in its place): one synchronous read port (data
    the cycle after raddr) and one write port."""
    return wiring.Signature({
        "raddr": In(abits),
        "rdata": Out(width),
        "waddr": In(abits),
        "wdata": In(width),
        "we": In(1),
    })


class RAM(wiring.Component):
    """Parameters: width, depth, name (the image file stem, e.g. "pe03_spmat"
    or None for a memory no image initialises), init (Amaranth-simulator
    contents). Ports: raddr/rdata (sync read), waddr/wdata/we (write)."""

    def __init__(self, *, width, depth, name=None, init=None):
        if depth < 1 or width < 1:
            raise ValueError(f"RAM {name!r}: width and depth must be positive, got {width} x {depth}")
        self.width, self.depth, self.name = width, depth, name
        self.abits = max(1, ceil_log2(depth))
        self._init = list(init or [])
        super().__init__(ram_signature(width, self.abits))

    def elaborate(self, platform):
        m = Module()
        # a board may implement some RAMs itself (SPRAM, block RAM with baked or
        # placeholder contents): the platform's eiegen_ram_override(ram) returns a
        # component with the same ports, or None for the default (boards/build.py)
        override = getattr(platform, "eiegen_ram_override", None)
        impl = override(self) if override is not None else None
        if impl is not None:
            m.submodules.impl = impl
            m.d.comb += [
                impl.raddr.eq(self.raddr), self.rdata.eq(impl.rdata),
                impl.waddr.eq(self.waddr), impl.wdata.eq(self.wdata), impl.we.eq(self.we),
            ]
            return m
        backend = getattr(platform, "eiegen_ram", None)
        if backend == "readmemh" and self.name is not None:
            init_file = ""
            mem_dir = getattr(platform, "eiegen_mem_dir", None)
            if mem_dir is not None and self.name is not None:
                candidate = Path(mem_dir) / f"{self.name}.hex"
                if candidate.exists():
                    init_file = str(candidate.resolve())
            m.submodules.ram = Instance(
                "eiegen_ram",
                p_WIDTH=self.width, p_DEPTH=self.depth, p_ABITS=self.abits,
                p_NAME=self.name or "", p_INIT_FILE=init_file,
                i_clk=ClockSignal(),
                i_raddr=self.raddr, o_rdata=self.rdata,
                i_we=self.we, i_waddr=self.waddr, i_wdata=self.wdata)
            if hasattr(platform, "add_file") and not getattr(platform, "_eiegen_ram_added", False):
                platform.add_file("eiegen_ram.v", VERILOG_SOURCE.read_text())
                platform._eiegen_ram_added = True
        else:
            m.submodules.mem = mem = Memory(shape=self.width, depth=self.depth, init=self._init)
            rd = mem.read_port()
            wr = mem.write_port()
            m.d.comb += [
                rd.addr.eq(self.raddr), self.rdata.eq(rd.data),
                wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we),
            ]
        return m
