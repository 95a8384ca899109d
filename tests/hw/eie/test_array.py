"""cocotb regression of the generated Verilog of the whole EIE array.

Every run checks the outputs bit for bit against the golden model and every
performance counter (total cycles, broadcasts, broadcast stalls, per-PE busy
and idle cycles) for equality with the cycle model. The default set is a
fast subset; the full sweep (N in {1, 2, 3, 4, 5, 8, 16, 64}, FIFO depths
{1, 2, 8}, Icarus too) carries the `full` marker (`make test-full`, CI).
"""

import random

import numpy as np
import pytest

from eiegen.hw.eie.array import EIEArray
from eiegen.hw.eie.params import EIEParams, host_map
from eiegen.sim.amaranth_sim import HostBus, run
from eiegen.sw.image import write_image
from eiegen.sw.packer import pack
from eiegen.sim import eie_harness
from eiegen.sim.testdata import random_compressed_model, random_input

# one memory geometry for every test, so each (N, FIFO depth, simulator) builds once
GEOMETRY = dict(spmat_depth=1024, ptr_depth=256, bias_depth=256, act_depth=64, max_layers=4)


def params_for(n_pes, fifo_depth, **kw):
    return EIEParams(n_pes=n_pes, fifo_depth=fifo_depth, **{**GEOMETRY, **kw})


def cases(n_pes, seed):
    """(name, model, inputs) covering the regression's corners for N PEs."""
    rng = np.random.default_rng(seed)
    big = min(64 * n_pes, 200)
    # entries one PE may hold: spmat words x entries per word, with room for
    # padding entries and an uneven share of rows
    budget = GEOMETRY["spmat_depth"] * 2 * n_pes // 2
    out = []
    for density in (1.0, 0.5, 0.1, 0.01):
        n_in, n_out = int(rng.integers(8, big)), int(rng.integers(8, big))
        while n_in * n_out * density > budget:
            n_in, n_out = max(8, n_in * 3 // 4), max(8, n_out * 3 // 4)
        m = random_compressed_model(rng, [n_in, n_out], density)
        out.append((f"density{density}", m, random_input(rng, n_in, 0.6, batch=2)))
    # all-zero columns, an all-zero input, padding entries (tall, very sparse)
    m = random_compressed_model(rng, [40, 30], 0.3, zero_cols=0.5)
    x = random_input(rng, 40, 0.8, batch=2)
    x[1] = 0
    out.append(("zero-columns-and-input", m, x))
    tall = min(64 * n_pes, 64 * 40)
    m = random_compressed_model(rng, [12, tall], 0.02)
    out.append(("padding", m, random_input(rng, 12, 1.0, batch=1)))
    # multi-layer image with ReLU chaining, and saturating magnitudes
    m = random_compressed_model(rng, [30, 50, 20, 10], [0.3, 0.4, 0.6])
    out.append(("three-layers", m, random_input(rng, 30, 0.7, batch=2)))
    m = random_compressed_model(rng, [20, 16], 0.8, scale=60.0)
    out.append(("saturation", m, random_input(rng, 20, 0.9, amplitude=30000, batch=1)))
    return out


def run_cases(params, simulator, tmp_path, case_list):
    built = eie_harness.build(params, simulator)
    failures = []
    for name, model, inputs in case_list:
        image = pack(model, params)
        assert image.stats["padding_entries"] > 0 or name != "padding"
        write_image(image, tmp_path / name)
        result = eie_harness.run(built, tmp_path / name, inputs, test_dir=tmp_path / f"run-{name}")
        rep = eie_harness.check(image, inputs, result, params=params)
        if rep["mismatches"]:
            failures.append(f"{name}: {rep['mismatches']} output mismatches, first "
                            f"(input, output, rtl, golden) = {rep['first_mismatches']}")
        for i, pi in enumerate(rep["per_input"]):
            if not pi["equal"]:
                failures.append(f"{name} input {i}: counters differ\n  rtl   {pi['rtl']}\n  model {pi['model']}")
    assert not failures, "\n".join(failures)


# (17: the smallest array whose trees end in a register of every PE, timing.pe_stage)
FAST = [(1, 1), (4, 8), (8, 2), (17, 2)]
FULL = [(n, 8) for n in (2, 3, 5, 16, 64)] + [(4, 1), (4, 2), (16, 1), (16, 2), (64, 2), (1, 8)]


@pytest.mark.parametrize("n_pes, fifo_depth", FAST)
def test_array_verilator(n_pes, fifo_depth, tmp_path):
    run_cases(params_for(n_pes, fifo_depth), "verilator", tmp_path, cases(n_pes, seed=n_pes * 31 + fifo_depth))


@pytest.mark.icarus
def test_array_icarus(tmp_path):
    params = params_for(2, 2)
    rng = np.random.default_rng(5)
    m = random_compressed_model(rng, [20, 24, 6], [0.4, 0.5])
    x = random_input(rng, 20, 0.7, batch=2)
    x[1] = 0
    run_cases(params, "icarus", tmp_path, [("two-layers", m, x)])


@pytest.mark.full
@pytest.mark.parametrize("n_pes, fifo_depth", FULL)
def test_array_verilator_full(n_pes, fifo_depth, tmp_path):
    run_cases(params_for(n_pes, fifo_depth), "verilator", tmp_path, cases(n_pes, seed=n_pes * 17 + fifo_depth))


@pytest.mark.full
@pytest.mark.icarus
@pytest.mark.parametrize("n_pes, fifo_depth", [(1, 1), (4, 8), (3, 2)])
def test_array_icarus_full(n_pes, fifo_depth, tmp_path):
    run_cases(params_for(n_pes, fifo_depth), "icarus", tmp_path, cases(n_pes, seed=n_pes * 7 + fifo_depth)[:5])


def test_eie_params_refused():
    with pytest.raises(ValueError, match="n_pes must be in"):
        EIEParams(n_pes=65)
    with pytest.raises(ValueError, match="entries_per_word must be 1, 2, 4 or 8"):
        EIEParams(entries_per_word=3)
    with pytest.raises(ValueError, match="acc_width"):
        EIEParams(frac=8, acc_width=20)


@pytest.mark.parametrize("n_pes, mem_latency", [(2, 1), (5, 2), (17, 2)])
def test_host_reads_back_every_memory(n_pes, mem_latency):
    """Amaranth simulation of the array's host bus: words written into every
    memory (the central layer table and codebooks, and each PE's) read back
    as written, interleaved with control-register reads, back to back."""
    p = EIEParams(n_pes=n_pes, mem_latency=mem_latency, spmat_depth=16, ptr_depth=16,
                  bias_depth=8, act_depth=8, max_layers=2)
    hmap = host_map(p)
    dut = EIEArray(p)
    rng = random.Random(n_pes)
    words = {}
    for name in ("layers", "codebook", "spmat", "ptr_even", "ptr_odd", "bias", "act0", "act1"):
        t = hmap.target(name)
        depth = t.depth
        for pe in range(n_pes if t.per_pe else 1):
            for w in sorted({0, 1, depth - 1, rng.randrange(depth)}):
                words[hmap.addr(name, pe, w)] = rng.getrandbits(t.width)
    assert len(words) > 8 * n_pes

    async def tb(ctx):
        bus = HostBus(ctx, dut.bus)
        await bus.write(hmap.reg_addr("num_layers"), 2)
        for a, d in words.items():
            await bus.write(a, d)
        order = list(words)
        rng.shuffle(order)
        for a in order:
            assert await bus.read(a) == words[a], f"address {a:#010x}"
            assert await bus.read(hmap.reg_addr("num_layers")) == 2
    run(dut, tb)
