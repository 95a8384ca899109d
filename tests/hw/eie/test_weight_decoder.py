"""hw/eie/weight_decoder.py: the 4-bit index selects its int16 codebook entry."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from eiegen.hw.eie.weight_decoder import WeightDecoder


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_index_decodes(seed):
    rng = np.random.default_rng(seed)
    codebooks = [[0] + rng.integers(-32768, 32768, 15).tolist(),
                 [0, -32768, 32767, -1, 1] + rng.integers(-300, 300, 11).tolist()]
    dut = WeightDecoder()

    async def tb(ctx):
        for cb in codebooks:
            ctx.set(dut.codebook, cb)
            for v in rng.permutation(16):
                ctx.set(dut.v, int(v))
                assert ctx.get(dut.w) == cb[v], (cb, v)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
