"""Deep Compression in numpy: pruning, trained quantization, Huffman statistics.

The pipeline (Han et al., "Deep Compression", and Han's thesis ch. 3-4),
applied per fully connected layer of a FloatModel:

1. prune: magnitude pruning to a target sparsity (prune_magnitude), or
   load-balance-aware pruning for N PEs (prune_balanced);
2. quantize: 1-D k-means with linear initialisation over the surviving
   weights, 2**bits - 1 shared values plus the reserved 0.0 at codebook
   index 0 (quantize_layer); finetune_centroids() is the retraining hook;
3. report: the interleaved-CSC (v, z) entries for N PEs, their Huffman
   coding and the storage table (compression_report).

See docs/compression.md for the options and the report's columns.
"""

import dataclasses
import time

from ..errors import ModelError
from ..model import CompressedModel, FloatLayer, FloatModel
from .encoding import EntryStreams, interleaved_csc
from .huffman import HuffmanCode, entropy, huffman_code, huffman_code_for
from .options import parse_sparsity, sparsity_per_layer
from .prune import (check_sparsity, column_imbalance, imbalance, pe_nonzeros, prune_balanced,
                    prune_magnitude)
from .quantize import (KMeansResult, QuantizedWeight, check_bits, finetune_centroids, kmeans_1d,
                       linear_init, quantize_layer, quantize_weight)
from .report import (LayerReport, Report, compression_report, dense_weight_bits, layer_report,
                     pruned_model_bits, quantized_model_bits)

__all__ = [
    "compress_model", "compress_layer", "compression_report", "Report", "LayerReport", "layer_report",
    "prune_magnitude", "prune_balanced", "check_sparsity", "pe_nonzeros", "imbalance",
    "column_imbalance", "kmeans_1d", "linear_init", "KMeansResult", "quantize_weight",
    "QuantizedWeight", "quantize_layer", "finetune_centroids", "check_bits", "huffman_code",
    "huffman_code_for", "HuffmanCode", "entropy", "interleaved_csc", "EntryStreams",
    "parse_sparsity", "sparsity_per_layer", "dense_weight_bits", "pruned_model_bits",
    "quantized_model_bits",
]


def _check_pes(pes, balance):
    if pes is None:
        if balance:
            raise ModelError("load-balance-aware pruning needs the number of PEs (pes)")
        return None
    if isinstance(pes, bool) or not isinstance(pes, int) or pes < 1:
        raise ModelError(f"the number of PEs must be a positive integer, got {pes!r}")
    return pes


def compress_layer(layer, sparsity=0.9, bits=4, pes=None, balance=False, *, group=1):
    """Prune and quantize one FloatLayer -> CompressedLayer (options as compress_model)."""
    if not isinstance(layer, FloatLayer):
        raise ModelError(f"compress_layer needs a FloatLayer, got {type(layer).__name__}")
    s = check_sparsity(sparsity, layer.name)
    check_bits(bits, layer.name)
    pes = _check_pes(pes, balance)
    if balance:
        w = prune_balanced(layer.weight, s, pes, group=group, name=layer.name)
    else:
        w = prune_magnitude(layer.weight, s, name=layer.name)
    c = quantize_layer(FloatLayer(layer.name, w, layer.bias, layer.relu), bits)
    return dataclasses.replace(c, sparsity=s)


def compress_model(model, sparsity=0.9, bits=4, pes=None, balance=False, *, group=1, progress=None):
    """Deep Compression of a FloatModel -> CompressedModel.

    sparsity: fraction of weights pruned per layer, in [0, 1): one float for
      every layer, a list with one per layer, or a dict {layer name: value}
      naming every layer;
    bits: codebook index bits, 1..8 (2**bits - 1 centroids + the zero; EIE needs <= 4);
    pes, balance: with balance=True, load-balance-aware pruning for `pes` PEs
      (row i on PE i mod pes); without it, plain magnitude pruning (pes unused);
    group: columns per balanced column group (default 1, every column);
    progress: optional callable taking one line of text per layer.
    """
    if isinstance(model, CompressedModel):
        raise ModelError("the model is already compressed")
    if not isinstance(model, FloatModel):
        raise ModelError(f"compress_model needs a FloatModel, got {type(model).__name__}")
    per_layer = sparsity_per_layer(sparsity, [l.name for l in model.layers])
    for l in model.layers:
        check_sparsity(per_layer[l.name], l.name)
        check_bits(bits, l.name)
    pes = _check_pes(pes, balance)
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise ModelError(f"the column group must be a positive integer, got {group!r}")
    out = []
    for l in model.layers:
        t0 = time.perf_counter()
        c = compress_layer(l, per_layer[l.name], bits, pes, balance, group=group)
        out.append(c)
        if progress is not None:
            nz = int((c.index != 0).sum())
            progress(f"{l.name}: {l.shape[0]} x {l.shape[1]}, sparsity {per_layer[l.name]:g}"
                     f"{' (balanced for %d PEs)' % pes if balance else ''} -> density "
                     f"{nz / c.index.size:.2%}, {len(c.codebook)} codebook entries, "
                     f"{time.perf_counter() - t0:.2f} s")
    return CompressedModel(out)
