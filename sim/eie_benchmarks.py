"""The layers of the EIE paper's benchmark table (Han et al., ISCA 2016, Table III).

Each is reproduced as a random sparse layer of the same shape, weight density
and input-activation density (uniformly spread non-zeros; the real pruned
matrices are not public). Shapes are (outputs, inputs).
"""

import dataclasses

import numpy as np

from ..sw.model import CompressedLayer, CompressedModel
from .testdata import random_codebook

__all__ = ["BenchLayer", "EIE_BENCHMARKS", "make_layer", "make_input"]


@dataclasses.dataclass(frozen=True)
class BenchLayer:
    name: str
    n_in: int
    n_out: int
    weight_density: float
    act_density: float
    description: str


EIE_BENCHMARKS = [
    BenchLayer("Alex-6", 9216, 4096, 0.09, 0.351, "AlexNet FC6"),
    BenchLayer("Alex-7", 4096, 4096, 0.09, 0.353, "AlexNet FC7"),
    BenchLayer("Alex-8", 4096, 1000, 0.25, 0.375, "AlexNet FC8"),
    BenchLayer("VGG-6", 25088, 4096, 0.04, 0.183, "VGG-16 FC6"),
    BenchLayer("VGG-7", 4096, 4096, 0.04, 0.375, "VGG-16 FC7"),
    BenchLayer("VGG-8", 4096, 1000, 0.23, 0.411, "VGG-16 FC8"),
    BenchLayer("NT-We", 4096, 600, 0.10, 1.0, "NeuralTalk word embedding"),
    BenchLayer("NT-Wd", 600, 8791, 0.11, 1.0, "NeuralTalk decoder"),
    BenchLayer("NT-LSTM", 1201, 2400, 0.10, 1.0, "NeuralTalk LSTM"),
]


def make_layer(bench, seed=0, scale=1.0):
    """A CompressedModel of one layer with the benchmark's shape and density.
    `scale` < 1 shrinks both dimensions (for quick runs)."""
    rng = np.random.default_rng(seed)
    n_in = max(8, int(bench.n_in * scale))
    n_out = max(8, int(bench.n_out * scale))
    index = np.zeros((n_out, n_in), dtype=np.uint8)
    step = max(1, (1 << 24) // n_out)
    for c0 in range(0, n_in, step):
        c1 = min(n_in, c0 + step)
        block = rng.random((n_out, c1 - c0)) < bench.weight_density
        index[:, c0:c1][block] = rng.integers(1, 16, int(block.sum()), dtype=np.uint8)
    layer = CompressedLayer(bench.name, random_codebook(rng, scale=0.1), index,
                            rng.normal(0, 0.05, n_out), relu=True)
    return CompressedModel([layer])


def make_input(bench, n_in, seed=1, amplitude=256):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, amplitude + 1, n_in) * rng.choice([-1, 1], n_in)
    x[rng.random(n_in) >= bench.act_density] = 0
    return x.astype(np.int16)
