"""Trained quantization by weight sharing (Deep Compression, Han's thesis ch. 3).

Per layer, the surviving (non-zero) weights are clustered with 1-D k-means
into 2**bits - 1 shared values; codebook entry 0 is reserved for 0.0 (the
pruned weights and EIE's padding entries), so a layer's codebook is
[0.0, c_1, ..., c_K] with c ascending, and its index matrix holds 0 where a
weight is pruned and 1..K elsewhere.

k-means in one dimension: clusters of the nearest-centroid assignment are
contiguous ranges of the sorted values, so after one sort each Lloyd
iteration is a searchsorted of the K - 1 midpoints between centroids and a
difference of prefix sums -- O(K log n) per iteration, the same fixed point
as plain Lloyd on the unsorted data. Initialisation is linear (K values
evenly spaced between the minimum and maximum weight), which the thesis
found best. An empty cluster is moved to the value farthest from its own
cluster's (previous) centroid, and that point leaves its old cluster -- the
rule scikit-learn's Lloyd k-means uses, so both reach the same centroids from
the same initialisation. Iteration stops when the assignment no longer
changes (scikit-learn's "strict convergence"). Deterministic.

Degenerate cases: with at most K distinct values the codebook is exactly the
distinct values (fewer than 2**bits entries); a layer with no surviving
weight gets the codebook [0.0].

Fine-tuning (Deep Compression fig. 3): the gradient of a shared centroid is
the sum of the gradients of the weights that use it; finetune_centroids()
applies one step of that to a layer's codebook.
"""

import dataclasses
import numbers

import numpy as np

from ..errors import ModelError
from ..model import CompressedLayer, FloatLayer

__all__ = ["KMeansResult", "QuantizedWeight", "kmeans_1d", "linear_init", "quantize_weight",
           "quantize_layer", "finetune_centroids", "check_bits"]

MAX_BITS = 8


@dataclasses.dataclass
class KMeansResult:
    centroids: np.ndarray    # (K',) ascending, K' <= K
    labels: np.ndarray       # (n,) int64, index into centroids, same order as the input
    inertia: float           # sum of squared distances to the assigned centroid
    iterations: int          # Lloyd iterations run
    converged: bool          # the assignment stopped changing before max_iter


@dataclasses.dataclass
class QuantizedWeight:
    codebook: np.ndarray     # (K' + 1,) float64, codebook[0] == 0.0
    index: np.ndarray        # same shape as the weight, uint8, 0 = pruned
    kmeans: KMeansResult


def check_bits(bits, name="weight"):
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= MAX_BITS:
        raise ModelError(f"layer '{name}': bits must be an integer from 1 to {MAX_BITS}, got {bits!r}")
    return int(bits)


def linear_init(values, k):
    """k centroids evenly spaced between min(values) and max(values)."""
    v = np.asarray(values, dtype=np.float64)
    return np.linspace(v.min(), v.max(), k)


def _relocate_empty(xs, edges, c_old, sums, counts, empty):
    """scikit-learn's rule for empty clusters, on sorted data: the n_empty
    points farthest from their own cluster's (old) centroid become the empty
    clusters' centroids and leave their clusters' sums. The farthest points
    of a cluster are at the ends of its range, so only the n_empty lowest and
    highest points of each cluster are candidates. Returns the new centroids
    of the empty clusters (fewer when too few points lie off their centroid);
    sums and counts are updated in place."""
    m = int(empty.sum())
    lo, hi = edges[:-1], edges[1:]
    full = np.flatnonzero(~empty)
    off = np.arange(m)
    pos = np.concatenate([(lo[full][:, None] + off).ravel(), (hi[full][:, None] - 1 - off).ravel()])
    own = np.concatenate([np.repeat(full, m), np.repeat(full, m)])
    ok = (pos >= lo[own]) & (pos < hi[own])
    pos, own = pos[ok], own[ok]
    pos, first = np.unique(pos, return_index=True)
    own = own[first]
    dist = (xs[pos] - c_old[own]) ** 2
    pick = np.argsort(-dist, kind="stable")[:m]
    pick = pick[dist[pick] > 0.0]
    np.subtract.at(sums, own[pick], xs[pos[pick]])
    np.subtract.at(counts, own[pick], 1)
    return xs[pos[pick]]


def kmeans_1d(values, k, *, init="linear", max_iter=300):
    """Exact Lloyd k-means of 1-D data (see the module docstring).

    values: any shape, flattened; k >= 1; init: "linear" or an array of k
    initial centroids. Returns a KMeansResult; with at most k distinct values
    the centroids are those values (inertia 0).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not np.isfinite(x).all():
        raise ValueError("k-means input has non-finite values")
    n = x.size
    if n == 0:
        return KMeansResult(np.zeros(0), np.zeros(0, np.int64), 0.0, 0, True)
    xs = np.sort(x)
    distinct = 1 + int(np.count_nonzero(xs[1:] != xs[:-1]))
    if distinct <= k:
        uniq = xs[np.concatenate([[True], xs[1:] != xs[:-1]])]
        return KMeansResult(uniq, np.searchsorted(uniq, x).astype(np.int64), 0.0, 0, True)
    if isinstance(init, str):
        if init != "linear":
            raise ValueError(f"unknown k-means init '{init}' (use 'linear' or an array)")
        c = linear_init(xs, k)
    else:
        c = np.sort(np.asarray(init, dtype=np.float64).ravel())
        if c.shape != (k,) or not np.isfinite(c).all():
            raise ValueError(f"init must be {k} finite centroids, got shape {c.shape}")
    prefix = np.concatenate([[0.0], np.cumsum(xs)])
    prev = None
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        split = np.searchsorted(xs, (c[:-1] + c[1:]) * 0.5, side="right")
        if prev is not None and np.array_equal(split, prev):
            converged = True            # counted as an iteration, as scikit-learn's n_iter_
            break
        prev = split
        edges = np.concatenate([[0], split, [n]])
        counts = np.diff(edges)
        empty = counts == 0
        sums = prefix[edges[1:]] - prefix[edges[:-1]]
        c_new = c.copy()
        if empty.any():
            moved = _relocate_empty(xs, edges, c, sums, counts, empty)
            c_new[np.flatnonzero(empty)[:len(moved)]] = moved
        live = counts > 0
        c_new[live] = sums[live] / counts[live]
        c = np.sort(c_new)
    labels = np.searchsorted((c[:-1] + c[1:]) * 0.5, x, side="left").astype(np.int64)
    inertia = float(np.sum((x - c[labels]) ** 2))
    return KMeansResult(c, labels, inertia, it, converged)


def quantize_weight(weight, bits=4, *, name="weight", init="linear", max_iter=300):
    """Weight sharing for one (pruned) weight matrix: zeros stay at index 0, the
    non-zeros are clustered into 2**bits - 1 centroids at indices 1..K."""
    bits = check_bits(bits, name)
    w = np.asarray(weight, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ModelError(f"layer '{name}': weight has non-finite values")
    nz = w != 0.0
    km = kmeans_1d(w[nz], (1 << bits) - 1, init=init, max_iter=max_iter)
    index = np.zeros(w.shape, dtype=np.uint8)
    index[nz] = (km.labels + 1).astype(np.uint8)
    codebook = np.concatenate([[0.0], km.centroids])
    return QuantizedWeight(codebook, index, km)


def quantize_layer(layer, bits=4, *, max_iter=300):
    """FloatLayer (already pruned: zeros are pruned weights) -> CompressedLayer."""
    if not isinstance(layer, FloatLayer):
        raise TypeError(f"quantize_layer needs a FloatLayer, got {type(layer).__name__}")
    q = quantize_weight(layer.weight, bits, name=layer.name, max_iter=max_iter)
    return CompressedLayer(layer.name, q.codebook, q.index, layer.bias, layer.relu)


def finetune_centroids(layer, grad, lr):
    """One gradient step on the shared weights (Deep Compression fig. 3).

    grad: dLoss/dW, the same shape as the layer's weight. The gradient of
    centroid k is the sum of grad over the weights with index k; the codebook
    becomes codebook - lr * that (entry 0 stays 0.0, the pruned weights stay
    pruned). Returns a new CompressedLayer with the same index matrix.
    """
    if not isinstance(layer, CompressedLayer):
        raise TypeError(f"finetune_centroids needs a CompressedLayer, got {type(layer).__name__}")
    g = np.asarray(grad, dtype=np.float64)
    if g.shape != layer.index.shape:
        raise ModelError(f"layer '{layer.name}': gradient has shape {g.shape}, "
                         f"the weight has {layer.index.shape}")
    if not np.isfinite(g).all():
        raise ModelError(f"layer '{layer.name}': gradient has non-finite values")
    lr = float(lr)
    if not np.isfinite(lr):
        raise ModelError(f"layer '{layer.name}': learning rate {lr} is not finite")
    k = len(layer.codebook)
    gsum = np.bincount(layer.index.ravel(), weights=g.ravel(), minlength=k)
    codebook = layer.codebook - lr * gsum
    codebook[0] = 0.0
    if not np.isfinite(codebook).all():
        raise ModelError(f"layer '{layer.name}': the centroid update overflowed")
    return CompressedLayer(layer.name, codebook, layer.index.copy(),
                           None if layer.bias is None else layer.bias.copy(), layer.relu, layer.sparsity)
