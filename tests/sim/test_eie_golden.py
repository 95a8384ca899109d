from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.image import DecodedLayer
from eiegen.sw.packer import pack
from eiegen.sim.eie_golden import layer_forward, image_forward, _layer_one
from eiegen.sim.testdata import random_compressed_model, random_input
from eiegen.sw.fixedpoint import to_fixed, from_fixed, writeback, acc_bounds


def _decoded(model, n_pes=4, frac=8):
    return pack(model, EIEParams(n_pes=n_pes, frac=frac, spmat_depth=1 << 14, ptr_depth=1 << 12,
                                 bias_depth=1 << 12, act_depth=256)).decode()


def _reference_int(layer, x, frac, acc_width, relu):
    """Plain Python integers, one row at a time: the docs/design.md semantics."""
    lo, hi = acc_bounds(acc_width)
    out = []
    for i in range(layer.index.shape[0]):
        acc = int(layer.bias[i]) << frac
        for j in range(len(x)):
            if x[j] != 0:
                acc = min(hi, max(lo, acc + int(layer.weight[i, j]) * int(x[j])))
        y = (acc + ((1 << frac) >> 1)) >> frac if frac else acc
        y = min(32767, max(-32768, y))
        out.append(max(y, 0) if relu else y)
    return np.array(out)


@pytest.mark.parametrize("frac, acc_width", [(f, a) for f in (0, 4, 8, 12) for a in (24, 32, 40)
                                              if a >= 17 + f])     # EIEParams' own limit
def test_matches_integer_reference(frac, acc_width):
    rng = np.random.default_rng(frac * 100 + acc_width)
    m = random_compressed_model(rng, [23, 17, 9], 0.4, scale=4.0)
    layers = _decoded(m, frac=frac)
    for _ in range(4):
        x = random_input(rng, 23, 0.6, amplitude=30000)
        for layer in layers:
            y = layer_forward(layer, x, frac=frac, acc_width=acc_width)
            np.testing.assert_array_equal(y, _reference_int(layer, x, frac, acc_width, layer.relu))
            x = y


def test_accumulator_saturates_at_every_step():
    # acc_width 20: +2^19 - 1 is the ceiling. col 0 pushes far above it, col 1 comes back down.
    layer = DecodedLayer("s", np.array([[1, 2]], dtype=np.uint8),
                         np.array([0, 30000, -30000] + [0] * 13, dtype=np.int16),
                         np.array([0], dtype=np.int16), False)
    x = np.array([100, 10], dtype=np.int16)
    acc = _layer_one(layer.weight.astype(np.int64), np.zeros(1, np.int64), x.astype(np.int64),
                     *acc_bounds(20))
    assert acc[0] == (1 << 19) - 1 - 300000          # saturated, then -300000
    y = layer_forward(layer, x, frac=0, acc_width=20)
    assert y[0] == 32767                                # then int16 saturation
    unsaturated = 30000 * 100 - 30000 * 10
    assert unsaturated != acc[0]


def test_fast_path_equals_spec():
    rng = np.random.default_rng(7)
    m = random_compressed_model(rng, [40, 30], 0.7, scale=100.0)
    layer = _decoded(m, frac=4)[0]
    x = random_input(rng, 40, 0.9, amplitude=32000, batch=16)
    x[:4] //= 1000                                        # some rows never saturate
    y = layer_forward(layer, x, frac=4, acc_width=24)
    lo, hi = acc_bounds(24)
    for b in range(16):
        acc = _layer_one(layer.weight.astype(np.int64), layer.bias.astype(np.int64) << 4,
                         x[b].astype(np.int64), lo, hi)
        np.testing.assert_array_equal(y[b], writeback(acc, 4, layer.relu))


def test_against_scipy_sparse():
    """Without saturation the golden model is the sparse matrix-vector product."""
    rng = np.random.default_rng(8)
    m = random_compressed_model(rng, [64, 48], 0.1)
    layer = _decoded(m, n_pes=8)[0]
    W = sp.csc_matrix(layer.weight.astype(np.int64))
    x = random_input(rng, 64, 0.5, amplitude=200)
    acc = W @ x.astype(np.int64) + (layer.bias.astype(np.int64) << 8)
    np.testing.assert_array_equal(layer_forward(layer, x, frac=8, acc_width=32),
                                  writeback(acc, 8, layer.relu))


def test_against_float_numpy_within_bound():
    """Golden (fixed point) vs plain float numpy with the model's float codebook.
    Documented bound per output (docs/eie-architecture.md, "Accuracy"):
    |err| <= sum_j |x_j| * 2^-(F+1) + 2^-(F+1) (bias) + 2^-(F+1) (write-back),
    for the layer's own (quantized) input x, when nothing saturates."""
    rng = np.random.default_rng(9)
    frac = 8
    for trial in range(5):
        m = random_compressed_model(rng, [50, 40, 10], 0.3, scale=0.5)
        layers = _decoded(m, frac=frac)
        xf = rng.normal(0, 1, 50)
        xq = to_fixed(xf, frac)
        for clayer, dlayer in zip(m.layers, layers):
            y = layer_forward(dlayer, xq, frac=frac, acc_width=32)
            x_in = from_fixed(xq, frac)
            ref = clayer.dense() @ x_in + clayer.bias
            if clayer.relu:
                ref = np.maximum(ref, 0)
            lsb = 2.0 ** -(frac + 1)
            bound = np.abs(x_in).sum() * lsb + 2 * lsb
            err = np.abs(from_fixed(y, frac) - ref)
            assert err.max() <= bound, (err.max(), bound)
            xq = y


def test_exact_against_fixed_point_float():
    """With the fixed-point weights and inputs, the only error is the final
    rounding: half an LSB, and exactly round-half-up."""
    rng = np.random.default_rng(10)
    m = random_compressed_model(rng, [30, 20], 0.5)
    layer = _decoded(m, frac=6)[0]
    x = random_input(rng, 30, 0.8, amplitude=500)
    y = layer_forward(layer, x, frac=6, acc_width=32)
    for i in range(20):
        exact = Fraction(int(layer.bias[i])) + sum(Fraction(int(layer.weight[i, j]) * int(x[j]), 1 << 6)
                                                  for j in range(30))
        expect = int(np.floor(exact + Fraction(1, 2)))
        expect = min(32767, max(-32768, expect))
        if layer.relu:
            expect = max(expect, 0)
        assert y[i] == expect


def test_chaining_uses_previous_outputs():
    rng = np.random.default_rng(12)
    m = random_compressed_model(rng, [16, 12, 8, 4], 0.5)
    layers = _decoded(m)
    x = random_input(rng, 16, 0.7)
    outs = image_forward(layers, x, frac=8, acc_width=32, all_layers=True)
    assert len(outs) == 3
    step = x
    for layer, o in zip(layers, outs):
        step = layer_forward(layer, step, frac=8, acc_width=32)
        np.testing.assert_array_equal(step, o)
    assert (outs[0] >= 0).all() and (outs[1] >= 0).all()     # ReLU on hidden layers


def test_all_zero_input_gives_bias():
    rng = np.random.default_rng(13)
    m = random_compressed_model(rng, [10, 6], 0.5)
    layer = _decoded(m, n_pes=2)[0]
    y = layer_forward(layer, np.zeros(10, np.int16), frac=8, acc_width=32)
    np.testing.assert_array_equal(y, np.maximum(layer.bias, 0) if layer.relu else layer.bias)
