"""Random models and inputs for tests and benchmarks (deterministic by seed)."""

import numpy as np

from ..sw.model import CompressedModel, CompressedLayer

__all__ = ["random_codebook", "random_index", "random_compressed_model", "random_input"]


def random_codebook(rng, k=16, scale=1.0):
    """k entries, entry 0 = 0, the rest distinct non-zero centroids."""
    cb = np.sort(rng.uniform(-scale, scale, k - 1))
    cb[np.abs(cb) < scale / 64] = scale / 32
    return np.concatenate([[0.0], cb])


def random_index(rng, shape, density, *, zero_cols=0.0, zero_rows=0.0):
    """Index matrix with the given density of non-zero codes (1..15); whole
    columns / rows zeroed with the given probability."""
    idx = np.where(rng.random(shape) < density, rng.integers(1, 16, shape), 0).astype(np.uint8)
    if zero_cols:
        idx[:, rng.random(shape[1]) < zero_cols] = 0
    if zero_rows:
        idx[rng.random(shape[0]) < zero_rows, :] = 0
    return idx


def random_compressed_model(rng, sizes, density, *, bias=True, relu_last=False, scale=1.0,
                            zero_cols=0.0):
    """A chain of layers sizes[0] -> sizes[1] -> ...; density is one value or per layer."""
    dens = density if np.ndim(density) else [density] * (len(sizes) - 1)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(CompressedLayer(
            f"fc{i + 1}", random_codebook(rng, scale=scale),
            random_index(rng, (n_out, n_in), dens[i], zero_cols=zero_cols),
            rng.normal(0, scale, n_out) if bias else None,
            relu=(i < len(sizes) - 2) or relu_last))
    return CompressedModel(layers)


def random_input(rng, n, density, *, amplitude=256, batch=None):
    shape = (n,) if batch is None else (batch, n)
    x = rng.integers(-amplitude, amplitude + 1, shape)
    x[rng.random(shape) >= density] = 0
    return x.astype(np.int16)
