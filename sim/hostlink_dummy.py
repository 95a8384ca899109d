"""A small unit on the host bus for testing the host link (and its board
glue) without an accelerator: a few memories of different word sizes, one
replicated per PE, a data target and a register file, and a `run` that
reads the memories.

    target 0x00 regs     4 words x 4 bytes (a data target): 0 status (bit 0 busy, bit 1 done),
                         1 result, 2 cycles of the last run, 3 delay (R/W)
    target 0x01 mem_a   32 words x 2 bytes
    target 0x02 mem_b   16 words x 8 bytes, per PE (2 PEs)
    target 0x03 mem_c    8 words x 3 bytes
    target 0x04 inputs   8 words x 1 byte  (a data target: does not clear `loaded`)

Run: busy for 32 cycles while it adds up mem_a's words (unsigned), sets
result = (sum + inputs[0] + mem_c[0]) mod 2**32, stays busy for `delay`
more cycles (register 3; to test what happens while it runs), then done. Reads answer two
cycles after `re` for the memories, one cycle for the registers.

DummyBoard is HostLink + DummyUnit with UART pins: the device under test of
the link's UART-level tests (tests/hw/common/test_hostlink.py, Amaranth
simulator); the EIE board itself is simulated in cocotb by sim/cocotb_board.py.
"""

import dataclasses

from amaranth import Module, Signal, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect

from ..hw.common.hostbus import HostBusSignature
from ..hw.common.hostlink import HostLink

__all__ = ["DUMMY_TARGETS", "DATA_TARGETS", "DummyUnit", "DummyBoard", "DummyModel", "DESIGN",
           "PARAMS", "RUN_CYCLES"]

DESIGN = "dummy"
PARAMS = {"mem_a_words": 32, "mem_b_words": 16, "n_pes": 2, "version": 3}
RUN_CYCLES = 32


@dataclasses.dataclass(frozen=True)
class Target:
    id: int
    words: int
    word_bytes: int
    pes: int = 1


DUMMY_TARGETS = {
    "regs": Target(0x00, 4, 4),
    "mem_a": Target(0x01, 32, 2),
    "mem_b": Target(0x02, 16, 8, pes=2),
    "mem_c": Target(0x03, 8, 3),
    "inputs": Target(0x04, 8, 1),
}
DATA_TARGETS = (0x00, 0x04)
_MEMS = ("mem_a", "mem_b", "mem_c", "inputs")


class DummyUnit(wiring.Component):
    def __init__(self):
        super().__init__({
            "bus": In(HostBusSignature()),
            "start": In(1),
            "busy": Out(1),
            "done": Out(1),
        })
        self.mems = {name: Memory(shape=8 * DUMMY_TARGETS[name].word_bytes,
                                  depth=DUMMY_TARGETS[name].words * DUMMY_TARGETS[name].pes, init=[])
                     for name in _MEMS}

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        target, pe, word = bus.addr[24:32], bus.addr[16:24], bus.addr[0:16]
        ports = {}
        for name, mem in self.mems.items():
            m.submodules[name] = mem
            ports[name] = (mem.read_port(), mem.write_port())

        # run: walk mem_a (its read port is the unit's while busy)
        busy = Signal()
        done = Signal()
        step = Signal(range(RUN_CYCLES + 2))
        acc = Signal(32)
        result = Signal(32)
        cycles = Signal(32)
        delay = Signal(32)
        wait = Signal(32)
        m.d.comb += [self.busy.eq(busy), self.done.eq(done)]

        # address decode
        m.d.comb += bus.word_bytes.eq(1)
        with m.Switch(target):
            for name, t in DUMMY_TARGETS.items():
                with m.Case(t.id):
                    m.d.comb += [bus.word_bytes.eq(t.word_bytes),
                                 bus.addr_ok.eq((pe < t.pes) & (word < t.words))]
        for name in _MEMS:
            t = DUMMY_TARGETS[name]
            rp, wp = ports[name]
            index = (pe * t.words + word) if t.pes > 1 else word
            m.d.comb += [rp.addr.eq(index), wp.addr.eq(index), wp.data.eq(bus.wdata),
                         wp.en.eq(bus.we & bus.addr_ok & (target == t.id))]
        with m.If(bus.we & bus.addr_ok & (target == DUMMY_TARGETS["regs"].id) & (word == 3)):
            m.d.sync += delay.eq(bus.wdata)

        rp_a = ports["mem_a"][0]
        with m.If(busy):
            m.d.comb += rp_a.addr.eq(step)

        with m.If(self.start & ~busy):
            m.d.sync += [busy.eq(1), done.eq(0), step.eq(0), acc.eq(0), cycles.eq(0)]
        with m.Elif(busy):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(step != RUN_CYCLES + 1):
                m.d.sync += step.eq(step + 1)
            with m.If((step >= 1) & (step <= RUN_CYCLES)):     # data of address step-1
                m.d.sync += acc.eq(acc + rp_a.data)
            with m.If(step == RUN_CYCLES):
                m.d.sync += [result.eq(acc + rp_a.data + ports["inputs"][0].data +
                                       ports["mem_c"][0].data), wait.eq(delay)]
                with m.If(delay == 0):
                    m.d.sync += [busy.eq(0), done.eq(1)]
            with m.If(step == RUN_CYCLES + 1):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 1):
                    m.d.sync += [busy.eq(0), done.eq(1)]
        # inputs[0] and mem_c[0] are read (address 0) while running
        with m.If(busy):
            m.d.comb += [ports["inputs"][0].addr.eq(0), ports["mem_c"][0].addr.eq(0)]

        # reads: memories answer 2 cycles after re, registers 1 cycle
        r1 = Signal()
        r1_target = Signal(8)
        r1_word = Signal(16)
        r1_ok = Signal()
        reg = Signal(32)
        with m.Switch(word[:2]):
            for i, v in enumerate([Cat(busy, done), result, cycles, delay]):
                with m.Case(i):
                    m.d.comb += reg.eq(v)
        r1_reg = Signal(32)
        m.d.sync += [r1.eq(bus.re), r1_target.eq(target), r1_word.eq(word), r1_ok.eq(bus.addr_ok),
                     r1_reg.eq(reg)]
        is_reg = r1_target == DUMMY_TARGETS["regs"].id
        mem_data = Signal(64)
        with m.Switch(r1_target):
            for name in _MEMS:
                with m.Case(DUMMY_TARGETS[name].id):
                    m.d.comb += mem_data.eq(ports[name][0].data)
        r2 = Signal()
        r2_data = Signal(64)
        m.d.sync += [r2.eq(r1 & ~is_reg), r2_data.eq(mem_data)]
        m.d.comb += [bus.rvalid.eq((r1 & is_reg) | r2),
                     bus.rdata.eq(Mux(r1 & is_reg, r1_reg, r2_data))]
        return m


class DummyBoard(wiring.Component):
    """HostLink + DummyUnit; ports `rx`, `tx` (UART pins), `loaded`, `busy`, `done`."""

    def __init__(self, *, clocks_per_bit=8, timeout_bits=64, max_payload=256,
                 loaded_at_reset=False):
        self.link = HostLink(design=DESIGN, params=PARAMS, clocks_per_bit=clocks_per_bit,
                             timeout_bits=timeout_bits, max_payload=max_payload,
                             data_targets=DATA_TARGETS, loaded_at_reset=loaded_at_reset)
        self.unit = DummyUnit()
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "loaded": Out(1),
            "busy": Out(1),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = self.link
        m.submodules.unit = unit = self.unit
        connect(m, link.bus, unit.bus)
        m.d.comb += [link.rx.eq(self.rx), self.tx.eq(link.tx), unit.start.eq(link.start),
                     link.busy.eq(unit.busy), link.done.eq(unit.done), self.loaded.eq(link.loaded),
                     self.busy.eq(unit.busy), self.done.eq(unit.done)]
        return m


class DummyModel:
    """What the dummy unit's memories should hold: words per (target, pe)."""

    def __init__(self):
        self.mem = {(t.id, pe): [0] * t.words for name, t in DUMMY_TARGETS.items()
                    if name in _MEMS for pe in range(t.pes)}
        self.delay = 0

    def write(self, addr, payload):
        target, pe, word = (addr >> 24) & 0xFF, (addr >> 16) & 0xFF, addr & 0xFFFF
        wb = next(t.word_bytes for t in DUMMY_TARGETS.values() if t.id == target)
        for i in range(0, len(payload), wb):
            v = int.from_bytes(payload[i:i + wb], "little")
            if target == 0:
                if word + i // wb == 3:
                    self.delay = v
            else:
                self.mem[(target, pe)][word + i // wb] = v

    def result(self):
        return (sum(self.mem[(0x01, 0)]) + self.mem[(0x04, 0)][0] + self.mem[(0x03, 0)][0]) & 0xFFFFFFFF
