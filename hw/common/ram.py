"""RAM: a simple dual-port memory that an image initialises.

One synchronous read port and one write port. `latency` is 1 (rdata the
cycle after raddr) or 2 (plus an output register, which block RAMs of the
fast parts provide: data leaves the memory from a register, not from the
array). A read of the word being written in the same cycle is undefined:
no eiegen design does it, so no collision logic is generated (the memories
carry Yosys' `no_rw_check`). How it is built depends on the platform the
design is elaborated for:

- no platform (Amaranth simulator, plain conversion): lib.memory.Memory,
  optionally with `init` contents;
- a platform with `eiegen_ram = "readmemh"` (cocotb builds, boards): an
  instance of the hand-written eiegen_ram.v, which loads `<NAME>.hex` from the
  folder given by the plusarg +eiegen_mem=<dir> in simulation, or bakes
  `<platform.eiegen_mem_dir>/<NAME>.hex` in at synthesis — so one simulator
  build runs every image and a bitstream can carry its weights in block RAM.

`init_offset`: the image file's first word goes to this address (a memory
may hold an image memory beside run-time data, e.g. a PE's bias words after
its two activation files).
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
    the cycle after raddr for an implementation; RAM adds its latency) and
    one write port."""
    return wiring.Signature({
        "raddr": In(abits),
        "rdata": Out(width),
        "waddr": In(abits),
        "wdata": In(width),
        "we": In(1),
    })


class RAM(wiring.Component):
    """Parameters: width, depth, name (the image file stem, e.g. "pe03_spmat"
    or None for a memory no image initialises), init_offset (where the image
    file's words go), init (Amaranth-simulator contents), latency (1 or 2
    cycles from raddr to rdata). Ports: raddr/rdata (sync read),
    waddr/wdata/we (write)."""

    def __init__(self, *, width, depth, name=None, init=None, init_offset=0, latency=1):
        if depth < 1 or width < 1:
            raise ValueError(f"RAM {name!r}: width and depth must be positive, got {width} x {depth}")
        if latency not in (1, 2):
            raise ValueError(f"RAM {name!r}: latency must be 1 or 2, got {latency!r}")
        if not 0 <= init_offset < depth:
            raise ValueError(f"RAM {name!r}: init_offset {init_offset} outside 0..{depth - 1}")
        self.width, self.depth, self.name = width, depth, name
        self.init_offset, self.latency = init_offset, latency
        self.abits = max(1, ceil_log2(depth))
        self._init = list(init or [])
        super().__init__(ram_signature(width, self.abits))

    def elaborate(self, platform):
        m = Module()
        if self.latency == 1:
            self._core(m, platform, self.rdata)
        else:
            data = Signal(self.width)
            self._core(m, platform, data)
            m.d.sync += self.rdata.eq(data)
        return m

    def _core(self, m, platform, rdata):
        # a board may implement some RAMs itself (SPRAM, block RAM with baked or
        # placeholder contents): the platform's eiegen_ram_override(ram) returns a
        # component with the same ports, or None for the default (boards/build.py)
        override = getattr(platform, "eiegen_ram_override", None)
        impl = override(self) if override is not None else None
        if impl is not None:
            m.submodules.impl = impl
            m.d.comb += [
                impl.raddr.eq(self.raddr), rdata.eq(impl.rdata),
                impl.waddr.eq(self.waddr), impl.wdata.eq(self.wdata), impl.we.eq(self.we),
            ]
            return
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
                p_NAME=self.name or "", p_INIT_FILE=init_file, p_INIT_OFFSET=self.init_offset,
                i_clk=ClockSignal(),
                i_raddr=self.raddr, o_rdata=rdata,
                i_we=self.we, i_waddr=self.waddr, i_wdata=self.wdata)
            if hasattr(platform, "add_file") and not getattr(platform, "_eiegen_ram_added", False):
                platform.add_file("eiegen_ram.v", VERILOG_SOURCE.read_text())
                platform._eiegen_ram_added = True
        else:
            m.submodules.mem = mem = Memory(shape=self.width, depth=self.depth, init=self._init,
                                            attrs={"no_rw_check": 1})
            rd = mem.read_port()
            wr = mem.write_port()
            m.d.comb += [
                rd.addr.eq(self.raddr), rdata.eq(rd.data),
                wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we),
            ]
