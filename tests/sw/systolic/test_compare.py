"""dense_cycles: equal to compiling the network and running the program
through the cycle model (itself equal to the RTL's counters), also when it
skips repeating blocks; errors on bad shapes."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.sim.systolic_cycles import ideal_cycles, simulate
from eiegen.sw.systolic import Layer, SystolicError, compile_layers
from eiegen.sw.systolic.compare import _report, dense_cycles, dense_report


def _compiled_counters(sizes, R, C, M, acc_depth):
    p = SystolicParams(rows=R, cols=C, ub_depth=8192, acc_depth=acc_depth, wmem_depth=16384,
                       imem_depth=65536)
    layers = [Layer(np.zeros((a, b), dtype=np.int64), 1, 0, i < len(sizes) - 2)
              for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    return simulate(compile_layers(M, layers, p).program, p).counters()


@pytest.mark.parametrize("R,C", [(1, 1), (4, 4), (3, 5), (8, 2), (16, 16)])
def test_equal_to_compiled_program(R, C):
    rng = np.random.default_rng(R * 32 + C)
    skipped_any = False
    for _ in range(12):
        sizes = [int(v) for v in rng.integers(1, 10 * max(R, C), int(rng.integers(2, 5)))]
        M = int(rng.choice([1, 2, 3, int(rng.integers(1, 60))]))
        acc_depth = int(rng.choice([8, 64, 512]))
        want = _compiled_counters(sizes, R, C, M, acc_depth)
        shapes = tuple(zip(sizes[:-1], sizes[1:]))
        fast, skipped = _report(shapes, R, C, M, acc_depth, None, True)
        slow, none = _report(shapes, R, C, M, acc_depth, None, False)
        assert none == 0
        assert slow.counters() == want, (sizes, M)
        assert fast.counters() == want, (sizes, M, skipped)
        skipped_any |= skipped > 0
        assert dense_cycles(shapes, R, C, M, acc_depth=acc_depth) == want["cycles"]
    assert skipped_any, "the repeating-block shortcut was never exercised"


def test_large_layers_are_fast_and_plausible():
    # VGG-16 fc6 (25088 x 4096) on 8 x 8 at batch 1: every 8 x 8 tile takes
    # 8 cycles to shift in, so ~8 cycles per tile (weight-load bound)
    r = dense_report([(25088, 4096)], 8, 8, 1)
    tiles = (25088 // 8) * (4096 // 8)
    assert r.mac_active == tiles
    assert tiles * 8 <= r.cycles <= tiles * 8 + 100
    # batch 256 keeps the array busy: close to one row per cycle and tile
    r = dense_report([(4096, 4096)], 16, 16, 256)
    ideal = ideal_cycles(256, 4096, 4096, 16, 16)
    assert ideal <= r.cycles <= ideal * 1.02


def test_chain_matches_sum_structure():
    one = dense_cycles([(300, 200)], 8, 8, 4)
    two = dense_cycles([(300, 200), (200, 10)], 8, 8, 4)
    assert two > one


@pytest.mark.parametrize("shapes,kw,msg", [
    ([(10, 5), (6, 3)], {}, "takes 6 inputs but layer 0 gives 5"),
    ([], {}, "no layers"),
    ([(10, 0)], {}, "positive"),
    ([(10,)], {}, "pair"),
    ([(10, 5)], dict(rows=33), "rows"),
    ([(10, 5)], dict(batch=0), "batch"),
    ([(10, 5)], dict(acc_depth=0), "acc_depth"),
])
def test_errors(shapes, kw, msg):
    args = dict(rows=4, cols=4, batch=1)
    args.update(kw)
    extra = {"acc_depth": args.pop("acc_depth")} if "acc_depth" in args else {}
    with pytest.raises(SystolicError, match=msg):
        dense_cycles(shapes, args["rows"], args["cols"], args["batch"], **extra)
