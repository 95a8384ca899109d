# amaranth: UnusedElaboratable=no
"""Formal proofs (SymbiYosys from PyPI through sim/formal.py) of the EIE
broadcast protocol and the arithmetic unit's write-back bypass; the
harnesses are in tests/hw/eie/formal_specs.py.

- `test_shadow_fifo_matches_syncfifo`: the register FIFO the broadcast
  harness puts in place of lib.fifo.SyncFIFO and hw/common's StagedFIFO (so
  its invariants can name the queued items) behaves as each of them (the
  StagedFIFO with items staged and not kept at will), for every trace of
  2 * depth + 2 cycles (bounded, as Amaranth checks its own FIFOs against a
  model).
- `test_bypass_invariant`: unbounded (k-induction).
  Two cases (the iCE40's and the ECP5's timing, about 40 s together) run in
  `make test`, the others (wider, and a large ECP5 array's product stage)
  with the `full` marker.
- `test_broadcast_protocol`: unbounded (k-induction) for N = 2 PEs, a layer
  of 10 columns (more than a queue's slots), and bounded (every trace of 16
  cycles from reset) for N = 3 with two queue slots: no queue overflows; the LNZD issues every non-zero and only
  non-zeros, in strictly increasing global column; every broadcast reaches
  every PE's queue exactly once, in order, with its value and pointers; and
  `test_broadcast_protocol_is_not_vacuous` (cover): the credit stall, a full
  queue and a completed layer are reachable. They take minutes (the solver
  is WebAssembly), so they carry the `full` marker.

A failing check leaves sby's folder (log, counterexample .vcd) under
build/formal/<test name>/.
"""

import sys
from pathlib import Path

import pytest
from amaranth.lib.fifo import SyncFIFO

from eiegen.hw.common.staged_fifo import StagedFIFO
from eiegen.hw.eie.params import EIEParams
from eiegen.sim.formal import check

sys.path.insert(0, str(Path(__file__).parent))
from formal_specs import FIFOEquivalenceSpec, AccumulatorSpec, BroadcastSpec  # noqa: E402

ROOT = Path(__file__).resolve().parents[3] / "build" / "formal"


def _check(spec, name, **kw):
    result = check(spec, spec.ports, name=name, workdir=ROOT / name, **kw)
    assert result.passed, f"{name}: formal check failed ({result.workdir})\n{result.summary()}"
    return result


@pytest.mark.parametrize("fifo", [SyncFIFO, StagedFIFO], ids=lambda f: f.__name__)
@pytest.mark.parametrize("width, depth", [(16, 3), pytest.param(8, 5, marks=pytest.mark.full)])
def test_shadow_fifo_matches_syncfifo(width, depth, fifo):
    _check(FIFOEquivalenceSpec(width, depth, fifo), f"fifo_equiv_{fifo.__name__}_{width}x{depth}",
           mode="bmc", depth=2 * depth + 2)


@pytest.mark.parametrize("acc_width, frac, rows, mem_latency, n_pes", [
    (17, 0, 2, 1, 1), (17, 0, 2, 2, 1), pytest.param(25, 8, 3, 2, 1, marks=pytest.mark.full),
    pytest.param(17, 0, 2, 2, 20, marks=pytest.mark.full)])
def test_bypass_invariant(acc_width, frac, rows, mem_latency, n_pes):
    # mem_latency 2 has the accumulator write stage (M3) and its second forward; a PE of
    # more than 16 there the product stage too (M0)
    p = EIEParams(n_pes=n_pes, act_depth=rows, frac=frac, acc_width=acc_width, spmat_depth=4,
                  ptr_depth=4, bias_depth=4, mem_latency=mem_latency)
    assert p.timing.product_stage == (n_pes > 16)
    _check(AccumulatorSpec(p), f"bypass_{acc_width}_{rows}_m{mem_latency}_n{n_pes}",
           mode="prove", depth=4 + p.timing.product_stage)


def broadcast_params(n_pes, act_depth, mem_latency, fifo_depth=1, queue_slots=0):
    """A layer of act_depth slices: more columns (n_pes * act_depth) than an
    activation queue has slots, so a stalled PE makes the credits hold the
    LNZD back (covered below)."""
    p = EIEParams(n_pes=n_pes, act_depth=act_depth, mem_latency=mem_latency,
                  fifo_depth=fifo_depth, queue_slots=queue_slots, spmat_depth=16, ptr_depth=16,
                  bias_depth=4, entries_per_word=1)
    assert n_pes * act_depth > p.queue_slots
    return p


@pytest.mark.full
def test_broadcast_protocol():
    # unbounded: k-induction of depth 8 (longer than every pipeline it crosses)
    p = broadcast_params(2, 5, 1)
    _check(BroadcastSpec(p), "broadcast_n2_a5_m1", mode="prove", depth=8)


@pytest.mark.full
@pytest.mark.parametrize("n_pes, act_depth, mem_latency, queue_slots", [(3, 2, 1, 2)])
def test_broadcast_protocol_bounded(n_pes, act_depth, mem_latency, queue_slots):
    # every trace of 16 cycles from reset (a layer's issues, a queue filling
    # up: two slots, the small parts' setting) with an odd number of PEs (a
    # tree with an unpaired leaf)
    p = broadcast_params(n_pes, act_depth, mem_latency, queue_slots=queue_slots)
    _check(BroadcastSpec(p), f"broadcast_n{n_pes}_a{act_depth}_m{mem_latency}_s{queue_slots}",
           mode="bmc", depth=16)


@pytest.mark.full
def test_broadcast_protocol_is_not_vacuous():
    # reachable from reset: the credits stall the LNZD, a queue fills up, the
    # layer completes with its last column issued
    p = broadcast_params(2, 5, 1)
    _check(BroadcastSpec(p), "broadcast_cover", mode="cover", depth=30)
