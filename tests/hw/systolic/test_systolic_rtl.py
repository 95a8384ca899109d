"""cocotb regression of the generated Verilog (Verilator; Icarus for a small
case): random matmuls with M, K, N from 1 to several times the array,
extreme values, identity and zero matrices, int32 results, chained layers.
Every result is bit-exact against the golden model and every performance
counter equal to the cycle model. The harness only drives the host bus to
load and read; the unit computes without Python per clock cycle."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.sim.systolic_cycles import simulate
from eiegen.sim.systolic_golden import Machine
from eiegen.sw.systolic import Layer, compile_layers, compile_matmul, quant_from_scale, rtl


def params(R, C, **kw):
    d = dict(rows=R, cols=C, ub_depth=2048, acc_depth=256, wmem_depth=4096, imem_depth=1024)
    d.update(kw)
    return SystolicParams(**d)


def _rand_case(rng, p, max_mult=3):
    R, C = p.rows, p.cols
    M = int(rng.integers(1, max_mult * max(R, C) + 1))
    K = int(rng.integers(1, max_mult * R + 1))
    N = int(rng.integers(1, max_mult * C + 1))
    x = rng.integers(-128, 128, (M, K))
    w = rng.integers(-128, 128, (K, N))
    if -(-N // C) * M <= p.acc_depth and rng.integers(3) == 0:
        return compile_matmul(M, w, p, output="int32"), x
    scale = 1.0 / (np.sqrt(K) * 64)
    mult, shift = quant_from_scale(scale * rng.uniform(0.5, 2.0), p)
    return compile_matmul(M, w, p, mult=mult, shift=shift, relu=bool(rng.integers(2)),
                          prefetch=int(rng.integers(1, 3))), x


def _special_cases(p):
    R, C = p.rows, p.cols
    K, N, M = 2 * R + 1, 2 * C + 1, 3 * max(R, C)
    cases = []
    lo = np.full((M, K), -128)
    cases.append((compile_matmul(M, np.full((K, N), -128), p, output="int32"), lo))   # max positive
    cases.append((compile_matmul(M, np.full((K, N), 127), p, output="int32"), lo))    # max negative
    ext = np.where(np.arange(M * K).reshape(M, K) % 3 == 0, 127, -128)
    cases.append((compile_matmul(M, np.full((K, N), 127), p, mult=1, shift=0), ext))  # saturate
    eye = np.eye(K, dtype=np.int64)
    x = np.random.default_rng(9).integers(-128, 128, (M, K))
    cases.append((compile_matmul(M, eye, p, mult=1, shift=0), x))                     # identity
    cases.append((compile_matmul(M, 127 * eye, p, mult=1, shift=7), x))               # 127/128 I
    cases.append((compile_matmul(M, np.zeros((K, N), dtype=np.int64), p, output="int32"), x))
    cases.append((compile_matmul(M, x.T[:, :N].copy() if x.shape[0] >= N else
                                 np.ones((K, N), dtype=np.int64), p, output="int32"),
                  np.zeros((M, K), dtype=np.int64)))                                    # zero input
    return cases


def _chain_case(rng, p, sizes, M):
    layers = []
    for k, n in zip(sizes[:-1], sizes[1:]):
        mult, shift = quant_from_scale(1.0 / (np.sqrt(k) * 48), p)
        layers.append(Layer(rng.integers(-128, 128, (k, n)), mult, shift, True))
    layers[-1].relu = False
    return compile_layers(M, layers, p), rng.integers(-128, 128, (M, sizes[0]))


def _check(built, cases):
    results, stats = rtl.run_many(built, cases)
    for k, ((comp, x), res) in enumerate(zip(cases, results)):
        np.testing.assert_array_equal(res.y, rtl.golden_output(comp, x), err_msg=f"case {k}")
        # the golden Machine running the same program agrees too
        mach = Machine(comp.params)
        for mem, base, rows in comp.memory_writes(x):
            if mem != "imem":
                mach.write(mem, base, rows)
        mach.run(comp.program, host=comp.machine_host())
        np.testing.assert_array_equal(res.y, comp.unpack_output(mach.read(*comp.output_read())))
        model = simulate(comp.program, comp.params).counters()
        got = {c: res.counters[c] for c in model}
        assert got == model, f"case {k}: RTL counters {got} != cycle model {model}"
        assert (res.counters["host_wait"] == 0) == (not comp.host_steps) and not res.error
    return stats, results


def params_4x4():
    """The 4 x 4 unit of these tests and of `eiegen bench systolic` (one build)."""
    return params(4, 4, ub_depth=4096, wmem_depth=8192, imem_depth=4096)


@pytest.fixture(scope="module")
def built_4x4():
    return rtl.build(params_4x4(), "verilator")


@pytest.fixture(scope="module")
def built_3x5():
    return rtl.build(params(3, 5), "verilator")


def _cnn_case(rng, p, layout):
    """conv (pad 1) -> conv (stride 2) -> dense, with the host's gathers at RHM."""
    from eiegen.sw.systolic.compiler import Conv2d
    layers = [Conv2d(rng.integers(-128, 128, (5, 3, 3, 3)), stride=1, padding=1, relu=True,
                     layout=layout, input_hw=(6, 5)),
              Conv2d(rng.integers(-128, 128, (6, 5, 2, 2)), stride=2, relu=True, layout=layout),
              Layer(rng.integers(-128, 128, (6 * 3 * 2, 10)))]
    for l, k in zip(layers, (27, 20, 36)):
        l.mult, l.shift = quant_from_scale(1.0 / (np.sqrt(k) * 48), p)
    comp = compile_layers(2, layers, p)
    return comp, rng.integers(-128, 128, comp.input_shape)


def test_random_and_special_4x4(built_4x4):
    p = built_4x4.params
    rng = np.random.default_rng(44)
    cases = [_rand_case(rng, p) for _ in range(12)] + _special_cases(p)
    cases.append(_chain_case(rng, p, [13, 9, 6], 7))
    cases += [_cnn_case(rng, p, "NCHW"), _cnn_case(rng, p, "NHWC")]
    stats, _ = _check(built_4x4, cases)
    assert stats["run_cycles"] > 0


def test_lenet5_digits_end_to_end(built_4x4):
    """The LeNet-5-shaped CNN (sw/systolic/lenet.py: conv, pool, conv, pool,
    three dense layers), trained in numpy and quantised to int8, on two test
    digits: every layer on the unit, the host only gathering between layers;
    logits bit-exact with the golden model, counters equal to the cycle model."""
    from eiegen.sw.systolic import lenet
    p = built_4x4.params
    data = lenet.load_digits(0)
    q = lenet.quantise(lenet.train(0, epochs=8, data=data), data[0])
    _, _, x_test, y_test = data
    cases = []
    for layout in ("NCHW", "NHWC"):
        layers = lenet.int_layers(q, p, layout)
        comp = compile_layers(2, layers, p, output="int32")
        cases.append((comp, lenet.int_input(x_test[:2], layout)))
    _, results = _check(built_4x4, cases)
    for (comp, x), res in zip(cases, results):
        pred, logits = lenet.predict_int(comp.layers, x)
        np.testing.assert_array_equal(res.y, logits)
        assert list(np.argmax(res.y, axis=1)) == list(pred)


def test_random_and_chained_non_square_3x5(built_3x5):
    p = built_3x5.params
    rng = np.random.default_rng(35)
    cases = [_rand_case(rng, p) for _ in range(10)] + _special_cases(p)
    cases += [_chain_case(rng, p, [7, 11, 4], 9), _chain_case(rng, p, [16, 16, 16, 5], 20)]
    _check(built_3x5, cases)


@pytest.mark.icarus
def test_icarus_small():
    p = params(2, 3, ub_depth=256, acc_depth=64, wmem_depth=512, imem_depth=256)
    built = rtl.build(p, "icarus")
    rng = np.random.default_rng(23)
    cases = [_rand_case(rng, p, max_mult=2) for _ in range(3)]
    cases.append(_chain_case(rng, p, [5, 4, 3], 4))
    _check(built, cases)


# 32 rows or 32 columns (the largest the generator takes) with a narrow other
# side: a 32 x 32 model takes several CPU-minutes to compile in Verilator,
# over the budget of the full sweep (it was run and passed while developing:
# `pytest tests/hw/systolic/test_systolic_rtl.py -m full` with (32, 32) added)
FULL_SHAPES = [(1, 1), (8, 8), (16, 16), (32, 3), (2, 32)]


@pytest.mark.full
@pytest.mark.parametrize("R,C", FULL_SHAPES)
def test_full_sweep(R, C):
    p = params(R, C, ub_depth=4096, acc_depth=512, wmem_depth=8192, imem_depth=2048)
    built = rtl.build(p, "verilator")
    rng = np.random.default_rng(R * 100 + C)
    cases = [_rand_case(rng, p, max_mult=3) for _ in range(8)] + _special_cases(p)
    cases.append(_chain_case(rng, p, [3 * R, 2 * C + 1, R + 1], 2 * max(R, C)))
    _check(built, cases)


@pytest.mark.full
@pytest.mark.icarus
def test_icarus_non_square_chain():
    p = params(3, 2, ub_depth=256, acc_depth=64, wmem_depth=512, imem_depth=256)
    built = rtl.build(p, "icarus")
    rng = np.random.default_rng(32)
    cases = [_rand_case(rng, p) for _ in range(4)] + _special_cases(p)[:3]
    cases.append(_chain_case(rng, p, [7, 5, 4], 6))
    _check(built, cases)
