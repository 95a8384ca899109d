"""hw/eie/timing.py: the one table both the RTL and the cycle model read.

The latencies are checked against the hardware where they are measured
(test_pe.py, test_control.py, test_formal.py, the array regression); here:
tree depths against the trees' own limits, the table's relations, and that
every reader gets the same numbers."""

import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.timing import Timing, timing, tree_levels
from eiegen.sim import eie_cycles


def _min_levels(n):
    """Fewest register levels so that groups of 4 reduce n leaves to at most 4."""
    levels = 0
    while 4 ** (levels + 1) < n:
        levels += 1
    return levels


@pytest.mark.parametrize("n", range(1, 65))
def test_tree_levels_is_the_fewest_that_fit(n):
    assert tree_levels(n) == _min_levels(n)
    assert [tree_levels(n) for n in (1, 4, 5, 16, 17, 64)] == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("n, mem_latency, fifo_depth", [(1, 2, 1), (4, 1, 8), (5, 2, 2),
                                                        (16, 2, 8), (17, 1, 3), (64, 2, 8)])
def test_table_relations(n, mem_latency, fifo_depth):
    p = EIEParams(n_pes=n, mem_latency=mem_latency, fifo_depth=fifo_depth)
    t = timing(p)
    lv = tree_levels(n)
    ps = int(mem_latency == 2 and n > 16)
    assert (t.n_pes, t.mem_latency, t.fifo_depth) == (n, mem_latency, fifo_depth)
    assert t.pe_stage == ps
    assert (t.fanout, t.gather, t.min_tree) == (lv + ps, lv, lv + 1 + ps)
    assert t.popcount == (0 if n <= 16 else 1)
    # the in-flight credit count: slack D plus what the pipeline holds
    assert t.round_trip == t.bcast_latency + t.credit_latency - 1
    assert t.queue_slots == fifo_depth + t.round_trip
    assert t.slice_slots == t.slice_latency + t.slice_credit and t.slice_credit == 2
    assert t.bcast_latency == 5 + 2 * (lv + ps) + lv + mem_latency
    assert t.arrival == t.bcast_latency - 2 - mem_latency      # pointer read + queue after arrival
    assert t.mac_latency == mem_latency + 2 + ps + (mem_latency == 2) and t.acc_write_stage == (mem_latency == 2)
    assert t.product_stage == ps
    assert t.host_stage == (mem_latency == 2)
    assert t.wb_tail == 4 + lv + ps and t.init_tail == 1 and t.idle_latency == 2 + lv
    assert t.slice_latency == 4 + lv + ps + mem_latency + lv + t.popcount


def test_every_reader_has_the_same_numbers():
    for n, d, m in [(1, 1, 1), (4, 8, 2), (16, 2, 2), (64, 8, 1)]:
        p = EIEParams(n_pes=n, fifo_depth=d, mem_latency=m)
        t = timing(p)
        assert p.timing == t
        assert p.queue_depth == t.queue_slots
        # an explicit queue size (small parts) overrides the full-rate one
        small = EIEParams(n_pes=n, fifo_depth=d, mem_latency=m, queue_slots=3)
        assert small.queue_depth == timing(small).queue_slots == 3
        assert eie_cycles.array_timing(n, d, mem_latency=m) == t
        assert eie_cycles.array_timing(n, d, mem_latency=m, queue_slots=3) == timing(small)


def test_timing_is_plain_python():
    # the cycle model and the packer import it without Amaranth
    import eiegen.hw.eie.timing as mod
    src = open(mod.__file__).read()
    assert "amaranth" not in src.split('"""', 2)[2]
    assert isinstance(timing(EIEParams()), Timing)
