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

from amaranth import Module, Instance, ClockSignal, Signal, Mux, Cat, Const
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["RAM", "DualReadRAM", "ram_signature", "sync_read", "SYNTH_SCRIPT_AFTER_READ", "VERILOG_SOURCE", "verilog_source_path", "ReadmemhPlatform"]

VERILOG_SOURCE = Path(__file__).with_name("eiegen_ram.v")


def verilog_source_path():
    return VERILOG_SOURCE


class ReadmemhPlatform:
    """The minimal platform object for simulation builds of eiegen designs."""
    eiegen_ram = "readmemh"
    eiegen_mem_dir = None


#: Yosys commands every board flow runs right after reading the design: turn
#: synchronous read ports back into asynchronous ports and registers, which
#: Yosys' memory_dff then merges again while honouring `no_rw_check` and with
#: no power-up value on the read register (neither needs logic next to a
#: block RAM). Without it, a read port that is synchronous from the start
#: keeps read-before-write emulation, and on the iCE40, whose block RAM
#: outputs have no initial value, a register's power-up value is emulated too.
SYNTH_SCRIPT_AFTER_READ = ("proc; memory_nordff; "
                           # registers of a fan-out tree (hw/eie/trees.py FANOUT_ATTR) stay copies
                           "setattr -set keep 1 a:eiegen_fanout %ci1:+[Q] c:* %i")


def sync_read(m, mem, addr, data):
    """A synchronous read (one cycle) of lib.memory.Memory `mem` at `addr`
    into `data`. Board flows run SYNTH_SCRIPT_AFTER_READ on the design."""
    rd = mem.read_port(domain="sync")
    m.d.comb += [rd.addr.eq(addr), data.eq(rd.data)]
    return rd


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
            data = Signal(self.width, reset_less=True)
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
            sync_read(m, mem, self.raddr, rdata)
            wr = mem.write_port()
            m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]


class DualReadRAM(wiring.Component):
    """Two banks of `depth` words, both read every cycle (bank 0 at `raddr0`,
    bank 1 at `raddr1`, data `latency` cycles later on `rdata0`/`rdata1`), and
    written one word at a time (`we`, `wbank`, `waddr`, `wdata`; only while
    nothing reads bank 0 but the writer). `names`: the image file stems of the
    two banks (e.g. a PE's even and odd pointer banks).

    On a platform with `eiegen_tdp` (true dual-port block RAM, e.g. the ECP5's
    DP16KD) both banks share one memory: port A reads bank 0 or writes, port B
    reads bank 1, so the pair costs one block RAM instead of two. Its initial
    words come from the platform's `eiegen_packed_init(self)` (the board's
    image or placeholder), else zeros. Elsewhere the banks are two RAMs."""

    def __init__(self, *, width, depth, names=(None, None), latency=1):
        if latency not in (1, 2):
            raise ValueError(f"DualReadRAM {names!r}: latency must be 1 or 2, got {latency!r}")
        self.width, self.depth, self.names, self.latency = width, depth, tuple(names), latency
        self.abits = max(1, ceil_log2(depth))
        super().__init__({
            "raddr0": In(self.abits), "rdata0": Out(width),
            "raddr1": In(self.abits), "rdata1": Out(width),
            "we": In(1), "wbank": In(1), "waddr": In(self.abits), "wdata": In(width),
        })

    @staticmethod
    def packed_depth(depth):
        """Words of the one memory that holds both banks of `depth` words
        (on a platform with `eiegen_tdp`): bank 1 starts at 2**abits."""
        return 2 << max(1, ceil_log2(depth))

    def elaborate(self, platform):
        m = Module()
        if not getattr(platform, "eiegen_tdp", False):
            for bank, name in enumerate(self.names):
                ram = RAM(width=self.width, depth=self.depth, name=name, latency=self.latency)
                m.submodules[f"bank{bank}"] = ram
                m.d.comb += [
                    ram.raddr.eq(self.raddr1 if bank else self.raddr0),
                    (self.rdata1 if bank else self.rdata0).eq(ram.rdata),
                    ram.we.eq(self.we & (self.wbank == bank)), ram.waddr.eq(self.waddr),
                    ram.wdata.eq(self.wdata),
                ]
            return m
        hook = getattr(platform, "eiegen_packed_init", None)
        init = hook(self) if hook is not None else []
        m.submodules.mem = mem = Memory(shape=self.width, depth=self.packed_depth(self.depth), init=init,
                                        attrs={"no_rw_check": 1, "ram_style": "block"})
        addr_a = Signal(self.abits + 1)
        m.d.comb += addr_a.eq(Mux(self.we, Cat(self.waddr, self.wbank), Cat(self.raddr0, Const(0, 1))))
        wr = mem.write_port()
        m.d.comb += [wr.addr.eq(addr_a), wr.data.eq(self.wdata), wr.en.eq(self.we)]
        d0, d1 = Signal(self.width, reset_less=True), Signal(self.width, reset_less=True)
        sync_read(m, mem, addr_a, d0)
        sync_read(m, mem, Cat(self.raddr1, Const(1, 1)), d1)
        if self.latency == 2:
            m.d.sync += [self.rdata0.eq(d0), self.rdata1.eq(d1)]
        else:
            m.d.comb += [self.rdata0.eq(d0), self.rdata1.eq(d1)]
        return m
