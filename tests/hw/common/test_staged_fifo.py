# amaranth: UnusedElaboratable=no
"""hw/common/staged_fifo.py in the Amaranth simulator: random writes, reads
and items staged but not kept, against a Python deque; every cycle the
level, readiness and head match it (the formal check against the register
model is tests/hw/eie/test_formal.py::test_shadow_fifo_matches_syncfifo)."""

import random
from collections import deque

import pytest

from eiegen.hw.common.staged_fifo import StagedFIFO
from eiegen.sim.amaranth_sim import run


@pytest.mark.parametrize("depth", [1, 3, 4, 11])
def test_matches_a_deque_with_staged_items_not_kept(depth):
    dut = StagedFIFO(width=8, depth=depth)
    rng = random.Random(depth)
    model = deque()
    seen = {"staged_only": 0, "full": 0}

    async def tb(ctx):
        for _ in range(600):
            w_stage, w_en, r_en = rng.random() < 0.7, rng.random() < 0.45, rng.random() < 0.4
            w_stage |= w_en
            data = rng.randrange(256)
            ctx.set(dut.w_stage, w_stage)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, data)
            ctx.set(dut.r_en, r_en)
            assert ctx.get(dut.level) == len(model)
            assert ctx.get(dut.w_rdy) == (len(model) < depth)
            assert ctx.get(dut.r_rdy) == (len(model) > 0)
            if model:
                assert ctx.get(dut.r_data) == model[0]
            seen["full"] += len(model) == depth
            seen["staged_only"] += w_stage and not w_en and len(model) < depth
            do_read = r_en and model
            do_write = w_en and len(model) < depth
            await ctx.tick()
            if do_read:
                model.popleft()
            if do_write:
                model.append(data)
    run(dut, tb)
    assert seen["full"] and seen["staged_only"]       # the trace reached both cases


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be at least 1"):
        StagedFIFO(width=4, depth=0)
