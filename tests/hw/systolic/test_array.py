"""SystolicArray with its Skew and Deskew buffers: products, timing, and
loading the next tile into the shadow weights while the current one computes."""

import numpy as np
import pytest
from amaranth import Module, signed
from amaranth.lib import wiring

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.array import SystolicArray
from eiegen.hw.systolic.deskew import Deskew
from eiegen.hw.systolic.layouts import act_beat, weight_beat
from eiegen.hw.systolic.params import MEM_LATENCY
from eiegen.hw.systolic.skew import Skew
from eiegen.sim.amaranth_sim import run


class Rig(wiring.Component):
    """Skew -> array <- Skew(weights); array -> Deskew, as in SystolicUnit."""

    def __init__(self, p):
        self.p = p
        self.askew = Skew(p.rows, act_beat(p))
        self.wskew = Skew(p.cols, weight_beat(p))
        self.arr = SystolicArray(p)
        self.deskew = Deskew(p.cols, signed(p.psum_width(p.rows - 1)))
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules += [self.askew, self.wskew, self.arr, self.deskew]
        m.d.comb += [self.arr.a_in.eq(self.askew.o), self.arr.w_in.eq(self.wskew.o),
                     self.deskew.i.eq(self.arr.psum_out)]
        return m


def _run(p, schedule, T):
    """schedule[t] = (act row or None, sel, (weight row, bank, tag) or None).
    Returns the Deskew output at every cycle."""
    rig = Rig(p)
    outs = []

    async def tb(ctx):
        for t in range(T):
            a, sel, wb = schedule.get(t, (None, 0, None))
            ctx.set(rig.askew.i, [{"data": int(v), "sel": sel} for v in
                                  (a if a is not None else [0] * p.rows)])
            if wb is None:
                ctx.set(rig.wskew.i, [{"data": 0, "valid": 0, "bank": 0, "tag": 0}] * p.cols)
            else:
                row, bank, tag = wb
                ctx.set(rig.wskew.i, [{"data": int(v), "valid": 1, "bank": bank, "tag": tag}
                                      for v in row])
            outs.append([ctx.get(rig.deskew.o[c]) for c in range(p.cols)])
            await ctx.tick()

    run(rig, tb)
    return np.array(outs)


@pytest.mark.parametrize("R,C", [(1, 1), (2, 3), (3, 2), (4, 4)])
def test_back_to_back_tiles_without_bubble(R, C):
    """Three tiles A, B, A' and three batches: each tile's weights are shifted
    in while the previous batch streams (the shadow bank), at the tightest
    timing the array allows: a beat may overwrite a bank from the cycle the
    last activation using it enters; activations may use a tile from the
    cycle after its last beat."""
    p = SystolicParams(rows=R, cols=C)
    rng = np.random.default_rng(R * 10 + C)
    tiles = [rng.integers(-128, 128, (R, C)) for _ in range(3)]
    M = R + 2
    batches = [rng.integers(-128, 128, (M, R)) for _ in range(3)]
    sched = {}

    def put(t, a=None, sel=0, w=None):
        old = sched.get(t, (None, 0, None))
        sched[t] = (a if a is not None else old[0], sel if a is not None else old[1],
                    w if w is not None else old[2])

    for i in range(R):                          # tile 0 -> bank 0, cycles 0..R-1
        put(i, w=(tiles[0][i], 0, i))
    starts = [R, R + M, R + 2 * M]              # batches stream back to back
    for b, t0 in enumerate(starts):
        for m in range(M):
            put(t0 + m, a=batches[b][m], sel=b % 2)
    for i in range(R):                          # tile 1 -> bank 1 during batch 0
        put(R + i, w=(tiles[1][i], 1, i))
    last0 = starts[0] + M - 1                   # last activation using bank 0 (batch 0)
    for i in range(R):                          # tile 2 -> bank 0 from that very cycle
        put(last0 + i, w=(tiles[2][i], 0, i))
    assert last0 + R - 1 < starts[2]            # ... and done before batch 2 starts
    # a row entering the skew at t is out of the Deskew at t + lat: the
    # pipeline depth less the buffer read and the accumulator's sum register
    lat = p.pipeline_depth - MEM_LATENCY - 1
    assert lat == R + C + 1
    T = starts[2] + M + lat + 1
    out = _run(p, sched, T)
    for b, t0 in enumerate(starts):
        want = batches[b] @ tiles[b]
        got = out[t0 + lat: t0 + lat + M]
        np.testing.assert_array_equal(got, want, err_msg=f"batch {b}")
