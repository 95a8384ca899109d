import numpy as np
import pytest
from sklearn.cluster import KMeans

from eiegen.sw.compress.prune import prune_magnitude
from eiegen.sw.compress.quantize import (finetune_centroids, kmeans_1d, linear_init, quantize_layer,
                                         quantize_weight)
from eiegen.sw.errors import ModelError
from eiegen.sw.model import CompressedLayer, FloatLayer


def _pruned_survivors(seed, n, s=0.9):
    w = np.random.default_rng(seed).standard_normal((n // 10, 10))
    p = prune_magnitude(w, s)
    return p[p != 0]                                  # bimodal: two tails, a gap around 0


def _sklearn(x, init):
    km = KMeans(len(init), init=init[:, None], n_init=1, tol=0.0, max_iter=300,
                algorithm="lloyd").fit(x[:, None])
    return km


@pytest.mark.parametrize("data", ["uniform", "normal", "pruned-1", "pruned-2", "laplace"])
def test_kmeans_matches_sklearn(data):
    rng = np.random.default_rng(len(data))
    x = {"uniform": lambda: rng.uniform(-1, 1, 3000),
         "normal": lambda: rng.standard_normal(4000),
         "pruned-1": lambda: _pruned_survivors(1, 30000),   # linear init leaves empty clusters
         "pruned-2": lambda: _pruned_survivors(2, 50000, 0.95),
         "laplace": lambda: rng.laplace(size=5000)}[data]()
    ours = kmeans_1d(x, 15)
    km = _sklearn(x, linear_init(x, 15))
    ref = np.sort(km.cluster_centers_.ravel())
    assert ours.converged
    np.testing.assert_allclose(ours.centroids, ref, rtol=0, atol=1e-9 * np.abs(x).max())
    assert ours.inertia == pytest.approx(km.inertia_, rel=1e-9)
    assert ours.iterations == km.n_iter_


def test_kmeans_is_a_lloyd_fixed_point():
    x = np.random.default_rng(3).standard_normal(2000) ** 3
    r = kmeans_1d(x, 7)
    c = r.centroids
    assert np.all(np.diff(c) > 0)
    nearest = np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)
    assert np.array_equal(nearest, r.labels)
    for k in range(len(c)):
        assert c[k] == pytest.approx(x[r.labels == k].mean(), rel=1e-12)
    assert r.inertia == pytest.approx(((x - c[r.labels]) ** 2).sum(), rel=1e-12)


def test_linear_init():
    assert np.allclose(linear_init([3.0, -1.0, 0.5], 5), [-1, 0, 1, 2, 3])


def test_kmeans_few_distinct_values_and_empty():
    r = kmeans_1d([0.5, -0.25, 0.5, 2.0], 15)
    assert list(r.centroids) == [-0.25, 0.5, 2.0]
    assert list(r.labels) == [1, 0, 1, 2]
    assert r.inertia == 0.0
    assert kmeans_1d([], 15).centroids.size == 0
    with pytest.raises(ValueError, match="non-finite"):
        kmeans_1d([1.0, np.nan], 3)
    with pytest.raises(ValueError, match="k must be"):
        kmeans_1d([1.0], 0)


def test_quantize_weight_reserves_zero_and_keeps_pruned():
    rng = np.random.default_rng(4)
    w = prune_magnitude(rng.standard_normal((50, 40)), 0.8)
    q = quantize_weight(w, 4)
    assert q.codebook[0] == 0.0
    assert len(q.codebook) == 16
    assert np.all(np.diff(q.codebook[1:]) > 0)
    assert np.array_equal(q.index == 0, w == 0)      # pruned weights stay 0, survivors nonzero
    assert q.index.dtype == np.uint8 and q.index.max() == 15
    # each survivor is coded by its nearest non-zero centroid
    nz = w != 0
    nearest = 1 + np.argmin(np.abs(w[nz][:, None] - q.codebook[None, 1:]), axis=1)
    assert np.array_equal(q.index[nz], nearest)
    assert np.abs(q.codebook[q.index] - w).max() < 0.5


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_quantize_bits(bits):
    w = prune_magnitude(np.random.default_rng(bits).standard_normal((40, 30)), 0.5)
    q = quantize_weight(w, bits)
    assert len(q.codebook) == 2 ** bits and q.codebook[0] == 0.0


def test_quantize_all_pruned_and_bad_bits():
    q = quantize_weight(np.zeros((3, 4)), 4)
    assert list(q.codebook) == [0.0] and not q.index.any()
    with pytest.raises(ModelError, match=r"layer 'fc': bits must be an integer from 1 to 8"):
        quantize_weight(np.ones((2, 2)), 9, name="fc")


def test_quantize_layer_keeps_bias_and_relu():
    w = prune_magnitude(np.random.default_rng(0).standard_normal((6, 5)), 0.5)
    c = quantize_layer(FloatLayer("l", w, np.arange(6.0), False), 2)
    assert isinstance(c, CompressedLayer) and c.name == "l" and not c.relu
    assert np.array_equal(c.bias, np.arange(6.0))


def test_finetune_centroids_moves_along_summed_gradient():
    rng = np.random.default_rng(7)
    index = rng.integers(0, 4, size=(6, 5)).astype(np.uint8)
    codebook = np.array([0.0, -0.5, 0.25, 1.0])
    layer = CompressedLayer("l", codebook, index, None, True)
    grad = rng.standard_normal((6, 5))
    new = finetune_centroids(layer, grad, lr=0.1)
    expect = codebook.copy()
    for k in range(1, 4):
        total = 0.0
        for i in range(6):
            for j in range(5):
                if index[i, j] == k:
                    total += grad[i, j]
        expect[k] -= 0.1 * total
    np.testing.assert_allclose(new.codebook, expect, rtol=1e-12)
    assert new.codebook[0] == 0.0
    assert np.array_equal(new.index, index)
    assert np.array_equal(layer.codebook, codebook)           # the input is not modified


def test_finetune_reduces_a_quadratic_loss():
    # L = 0.5 * ||W_q - T||^2, dL/dW = W_q - T: steps on the shared values decrease L
    rng = np.random.default_rng(8)
    t = prune_magnitude(rng.standard_normal((30, 20)), 0.7)
    layer = quantize_layer(FloatLayer("l", t + 0.05 * (t != 0) * rng.standard_normal(t.shape)), 2)
    losses = []
    for _ in range(40):
        g = layer.dense() - t
        losses.append(0.5 * float((g ** 2).sum()))
        layer = finetune_centroids(layer, g, lr=0.01)
    assert losses[-1] < losses[0] and all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))
    # the fixed point: each centroid is the mean of the targets sharing it
    for k in range(1, len(layer.codebook)):
        sel = layer.index == k
        if sel.any():
            assert layer.codebook[k] == pytest.approx(t[sel].mean(), abs=1e-3)


def test_finetune_bad_gradient():
    layer = CompressedLayer("fc9", np.array([0.0, 1.0]), np.ones((2, 3), np.uint8))
    with pytest.raises(ModelError, match=r"layer 'fc9': gradient has shape \(3, 2\)"):
        finetune_centroids(layer, np.ones((3, 2)), 0.1)
    with pytest.raises(ModelError, match=r"layer 'fc9': gradient has non-finite"):
        finetune_centroids(layer, np.full((2, 3), np.inf), 0.1)
