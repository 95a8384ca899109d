# amaranth: UnusedElaboratable=no
"""Port contracts: every component class of hw/eie, hw/systolic and
hw/common has a class docstring of its own that names each of its ports
(the members of its signature) and says when things happen (latency,
cycles, or that it is combinational).

Every module of those folders is imported and walked; a component class
(wiring.Component or Elaboratable) defined there must have an entry in
FACTORIES below (how to build a small instance), so a new component is
caught too. Port names are matched as words; a port of a numbered family
(`raddr0`, `raddr1`) may be named as `raddr{i}`."""

import importlib
import inspect
import pkgutil
import re

import pytest
from amaranth import Elaboratable, signed
from amaranth.lib import wiring

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.systolic.params import SystolicParams

PACKAGES = ("eiegen.hw.eie", "eiegen.hw.systolic", "eiegen.hw.common")

_E = EIEParams(n_pes=2, spmat_depth=256)
_S = SystolicParams(rows=2, cols=3, ub_depth=16, acc_depth=16, wmem_depth=16, imem_depth=16)
_LINK = dict(design="test", params={})

#: "module.Class" -> a function building a small instance
FACTORIES = {
    "eiegen.hw.eie.act_rw.ActivationReadWrite": lambda m: m.ActivationReadWrite(_E),
    "eiegen.hw.eie.activation_queue.ActivationQueue": lambda m: m.ActivationQueue(_E),
    "eiegen.hw.eie.address_accumulator.AddressAccumulator":
        lambda m: m.AddressAccumulator(_E.act_index_width),
    "eiegen.hw.eie.arithmetic_unit.ArithmeticUnit": lambda m: m.ArithmeticUnit(_E),
    "eiegen.hw.eie.array.EIEArray": lambda m: m.EIEArray(_E),
    "eiegen.hw.eie.control.CentralControl": lambda m: m.CentralControl(_E),
    "eiegen.hw.eie.lnzd.LNZDLane": lambda m: m.LNZDLane(2),
    "eiegen.hw.eie.lnzd.LNZD": lambda m: m.LNZD(2, _E.act_index_width, 2),
    "eiegen.hw.eie.pe.PE": lambda m: m.PE(_E, 0),
    "eiegen.hw.eie.pointer_read.PointerReadUnit": lambda m: m.PointerReadUnit(_E),
    "eiegen.hw.eie.spmat_read.SparseMatrixReadUnit": lambda m: m.SparseMatrixReadUnit(_E),
    "eiegen.hw.eie.weight_decoder.WeightDecoder": lambda m: m.WeightDecoder(),
    "eiegen.hw.eie.writeback.Writeback": lambda m: m.Writeback(_E.acc_width, _E.frac, 4),
    "eiegen.hw.systolic.accumulators.Accumulators": lambda m: m.Accumulators(_S),
    "eiegen.hw.systolic.activation.ActivationUnit": lambda m: m.ActivationUnit(_S),
    "eiegen.hw.systolic.array.SystolicArray": lambda m: m.SystolicArray(_S),
    "eiegen.hw.systolic.skew.Skew": lambda m: m.Skew(3, signed(8)),
    "eiegen.hw.systolic.deskew.Deskew": lambda m: m.Deskew(3, signed(8)),
    "eiegen.hw.systolic.lane_memory.LaneMemory":
        lambda m: m.LaneMemory(lanes=3, lane_shape=signed(8), depth=16, chunk_lanes=3,
                               bus_lane_bits=8, n_read=2),
    "eiegen.hw.systolic.pe.PE": lambda m: m.PE(_S, 1),
    "eiegen.hw.systolic.sequencer.Sequencer": lambda m: m.Sequencer(_S),
    "eiegen.hw.systolic.top.SystolicUnit": lambda m: m.SystolicUnit(_S),
    "eiegen.hw.systolic.unified_buffer.UnifiedBuffer": lambda m: m.UnifiedBuffer(_S),
    "eiegen.hw.systolic.weight_loader.WeightLoader": lambda m: m.WeightLoader(_S),
    "eiegen.hw.common.crc.CRC": lambda m: m.CRC(),
    "eiegen.hw.common.hostlink.LinkCore": lambda m: m.LinkCore(timeout_cycles=64, **_LINK),
    "eiegen.hw.common.hostlink.HostLink": lambda m: m.HostLink(clocks_per_bit=4, **_LINK),
    "eiegen.hw.common.ram.RAM": lambda m: m.RAM(width=8, depth=4),
    "eiegen.hw.common.staged_fifo.StagedFIFO": lambda m: m.StagedFIFO(width=8, depth=3),
    "eiegen.hw.common.ram.DualReadRAM": lambda m: m.DualReadRAM(width=8, depth=4),
    "eiegen.hw.common.spram.SPRAMBlockModel": lambda m: m.SPRAMBlockModel(),
    "eiegen.hw.common.spram.SPRAM": lambda m: m.SPRAM(width=16, depth=16),
    "eiegen.hw.common.uart.UARTRx": lambda m: m.UARTRx(4),
    "eiegen.hw.common.uart.UARTTx": lambda m: m.UARTTx(4),
}

#: a docstring says when its outputs are valid
TIMING_WORDS = re.compile(r"latency|cycle|combinational", re.I)


def component_classes():
    found = []
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"{pkg_name}.{info.name}")
            for name, cls in vars(mod).items():
                if (inspect.isclass(cls) and cls.__module__ == mod.__name__
                        and issubclass(cls, Elaboratable)):
                    found.append((f"{mod.__name__}.{name}", mod, cls))
    return sorted(found, key=lambda t: t[0])


COMPONENTS = component_classes()


def _never_elaborated(obj, seen=None):
    """Mark `obj` and the elaboratables it made in its constructor as used:
    they are built to read their signatures, never to be elaborated."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Elaboratable):
        obj._MustUse__used = True
        for v in vars(obj).values():
            _never_elaborated(v, seen)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _never_elaborated(v, seen)


def _named(port, doc):
    if re.search(rf"(?<![A-Za-z0-9_]){re.escape(port)}(?![A-Za-z0-9_])", doc):
        return True
    base = re.sub(r"\d+$", "", port)
    return base != port and f"{base}{{i}}" in doc


def test_the_walk_finds_the_components():
    names = {n for n, _, _ in COMPONENTS}
    # the ones the issue names first, and one per folder at least
    for want in ("eiegen.hw.eie.pe.PE", "eiegen.hw.eie.array.EIEArray",
                 "eiegen.hw.eie.activation_queue.ActivationQueue",
                 "eiegen.hw.systolic.top.SystolicUnit", "eiegen.hw.common.ram.RAM"):
        assert want in names
    missing = names - set(FACTORIES)
    assert not missing, f"component classes without an entry in FACTORIES: {sorted(missing)}"
    assert not set(FACTORIES) - names, "FACTORIES names classes that no longer exist"


@pytest.mark.parametrize("qualname, mod, cls", COMPONENTS, ids=[n for n, _, _ in COMPONENTS])
def test_component_docstring_states_its_ports(qualname, mod, cls):
    doc = cls.__dict__.get("__doc__")
    assert doc and doc.strip(), f"{qualname} has no class docstring of its own"
    assert TIMING_WORDS.search(doc), \
        f"{qualname}'s docstring does not say when its outputs are valid (latency, cycles)"
    if qualname not in FACTORIES:
        pytest.fail(f"{qualname}: add a factory to FACTORIES in {__file__}")
    dut = FACTORIES[qualname](mod)
    _never_elaborated(dut)
    if isinstance(dut, wiring.Component):
        ports = list(dut.signature.members)
        unnamed = [p for p in ports if not _named(p, doc)]
        assert not unnamed, f"{qualname}'s docstring does not name its ports {unnamed}"
