"""Bit-exact golden model of EIE layer execution (the spec the RTL is held to).

Semantics (docs/design.md, "EIE number formats"), per layer with int16 input a:
    acc[i] = bias[i] << FRAC                                   (accumulator preload)
    for j in increasing order with a[j] != 0:                 (LNZD broadcast order)
        for each row i:  acc[i] = sat_ACC(acc[i] + W[i, j] * a[j])
    y[i] = relu?(sat_int16((acc[i] + 2**(FRAC-1)) >> FRAC))
W[i, j] is the int16 codebook code of the weight (0 where pruned). Each row
sees its contributions in increasing column order — the order in which every
PE processes its activation queue — and saturation applies at every step.
"""

import numpy as np

from ..sw.fixedpoint import acc_bounds, writeback, to_fixed, from_fixed

__all__ = ["layer_forward", "image_forward", "quantize_input", "dequantize"]


def _layer_one(weight, bias_acc, a, lo, hi):
    """The spec, one input vector: saturating accumulation column by column."""
    acc = bias_acc.copy()
    for j in np.flatnonzero(a):
        acc = np.clip(acc + weight[:, j] * np.int64(a[j]), lo, hi)
    return acc


def layer_forward(layer, x, *, frac, acc_width):
    """One layer on int16 input(s) x of shape (n_in,) or (batch, n_in).
    `layer` is an image.DecodedLayer. Returns int16 of shape (n_out,) or (batch, n_out)."""
    x = np.asarray(x)
    single = x.ndim == 1
    x = np.atleast_2d(x).astype(np.int64)
    w = layer.weight.astype(np.int64)
    bias_acc = layer.bias.astype(np.int64) << frac
    lo, hi = acc_bounds(acc_width)
    # Fast path, same result: when no partial sum can leave the accumulator's
    # range, saturation never acts and the sum is an exact integer product.
    bound = np.abs(bias_acc)[None, :] + np.abs(x) @ np.abs(w).T
    safe = (bound <= hi).all(axis=1)
    acc = np.empty((x.shape[0], w.shape[0]), dtype=np.int64)
    if safe.any():
        acc[safe] = bias_acc[None, :] + x[safe] @ w.T
    for b in np.flatnonzero(~safe):
        acc[b] = _layer_one(w, bias_acc, x[b], lo, hi)
    y = writeback(acc, frac, layer.relu)
    return y[0] if single else y


def image_forward(layers, x, *, frac, acc_width, all_layers=False):
    """Run decoded layers in sequence (layer L's output is L+1's input, as the
    ping-pong activation files chain them)."""
    outs = []
    for layer in layers:
        x = layer_forward(layer, x, frac=frac, acc_width=acc_width)
        outs.append(x)
    return outs if all_layers else x


def quantize_input(x, frac):
    return to_fixed(x, frac)


def dequantize(q, frac):
    return from_fixed(q, frac)
