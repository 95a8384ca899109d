"""Pruning: magnitude pruning and load-balance-aware pruning (Han's thesis ch. 3, ESE).

Both functions take a float weight matrix W (outputs x inputs) and a target
sparsity s in [0, 1) and return a copy of W with the pruned weights set to 0.0.
The number of weights kept is round((1 - s) * W.size) for magnitude pruning;
balanced pruning keeps as close to that as its constraint allows (below).

Load-balance-aware pruning follows docs/design.md's interleaving: with N PEs, row i
belongs to PE i mod N. The columns are cut into groups of G consecutive
columns (G = 1 by default: every column is its own group). In every group,
each PE's share of it (its rows of those columns) keeps the same number k of
weights (its k largest by magnitude), so every PE gets the same work for the
group's input activations. The per-PE budget U = round(kept / N) is split
over the groups in proportion to their columns (floor(U * columns / inputs));
the few units left over go, one each, to the groups whose next largest
magnitudes (summed over the PEs) are largest, so with G = 1 every column keeps
k0 or k0 + 1 per PE and the layer keeps N * U weights, as close to the target
as a multiple of N allows. A share can keep at most the rows of the shortest
PE share (floor(outputs / N) per column, or 1 when outputs < N, in which case
only the PEs that own a row take part), so a target density above that is
capped. Sparsity 0 means no pruning at all (the matrix is returned unchanged).

Ties in magnitude are broken towards the lower column, then the lower (local)
row, and for the left-over units towards the lower group, so the result is
deterministic.
"""

import numbers

import numpy as np

from ..errors import ModelError

__all__ = ["check_sparsity", "prune_magnitude", "prune_balanced", "pe_nonzeros", "imbalance",
           "column_imbalance"]


def check_sparsity(value, name="weight"):
    """Validate a sparsity: a real number in [0, 1). Returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ModelError(f"layer '{name}': sparsity must be a number in [0, 1), got {value!r}")
    v = float(value)
    if not np.isfinite(v) or not 0.0 <= v < 1.0:
        raise ModelError(f"layer '{name}': sparsity {value!r} is outside [0, 1) "
                         "(it is the fraction of weights pruned)")
    return v


def _check_weight(weight, name):
    w = np.asarray(weight)
    if w.ndim != 2:
        raise ModelError(f"layer '{name}': weight must be 2-D, got shape {w.shape}")
    if w.size == 0:
        raise ModelError(f"layer '{name}': weight is empty (shape {w.shape})")
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(w.dtype, np.integer):
        raise ModelError(f"layer '{name}': weight has non-real dtype {w.dtype}")
    w = w.astype(np.float64, copy=False)
    if not np.isfinite(w).all():
        raise ModelError(f"layer '{name}': weight has non-finite values")
    return w


def _check_pes(pes):
    if isinstance(pes, bool) or not isinstance(pes, numbers.Integral) or pes < 1:
        raise ModelError(f"the number of PEs must be a positive integer, got {pes!r}")
    return int(pes)


def prune_magnitude(weight, sparsity, *, name="weight"):
    """Keep the round((1 - sparsity) * size) largest-magnitude weights, zero the rest.

    Exact count: weights tied at the threshold magnitude are kept in row-major
    order until the count is reached.
    """
    w = _check_weight(weight, name)
    s = check_sparsity(sparsity, name)
    a = np.abs(w).ravel()
    n = a.size
    keep = int(round((1.0 - s) * n))
    if keep >= n:
        return w.copy()
    if keep == 0:
        return np.zeros_like(w)
    t = np.partition(a, n - keep)[n - keep]        # the keep-th largest magnitude
    mask = a > t
    need = keep - int(np.count_nonzero(mask))
    if need > 0:
        mask[np.flatnonzero(a == t)[:need]] = True
    return np.where(mask.reshape(w.shape), w, 0.0)


def _slices(w, pes, group=1):
    """|W| (rows, cols) -> (pes, cols padded to a multiple of group, local_rows)
    shares, contiguous; missing rows and columns are -1. One pass over W."""
    rows, cols = w.shape
    local = -(-rows // pes)
    ncols = -(-cols // group) * group
    out = np.empty((pes, ncols, local))
    full = rows // pes                         # local rows every PE has
    # row i = l * pes + p  ->  [p, j, l]
    np.abs(w[:full * pes].reshape(full, pes, cols).transpose(1, 2, 0), out=out[:, :cols, :full])
    if local > full:                           # the last local row: only PEs < rows % pes own it
        extra = rows - full * pes
        np.abs(w[full * pes:], out=out[:extra, :cols, full])
        out[extra:, :cols, full] = -1.0
    if ncols > cols:
        out[:, cols:, :] = -1.0
    return out


def prune_balanced(weight, sparsity, pes, *, group=1, name="weight"):
    """Load-balance-aware pruning for `pes` PEs (see the module docstring).

    group: columns per column group (default 1: every column is balanced on
    its own, which is what EIE's per-activation broadcast needs). With
    group > 1 the PEs' shares of each run of `group` consecutive columns keep
    the same count, which leaves the pruning more freedom inside the group.
    """
    w = _check_weight(weight, name)
    s = check_sparsity(sparsity, name)
    pes = _check_pes(pes)
    if isinstance(group, bool) or not isinstance(group, numbers.Integral) or group < 1:
        raise ModelError(f"layer '{name}': the column group must be a positive integer, got {group!r}")
    rows, cols = w.shape
    g = min(int(group), cols)
    if s == 0.0:
        return w.copy()
    active = min(pes, rows)                    # PEs that own at least one row
    kmin = rows // pes if rows >= pes else 1   # rows of the shortest (non-empty) PE share
    target = (1.0 - s) * w.size
    units = int(round(target / active))        # kept weights per PE, summed over columns
    units = max(0, min(units, kmin * cols))
    if units == 0:
        return np.zeros_like(w)
    a = _slices(w, pes, g)                                   # (pes, ngroups * g, local)
    local = a.shape[2]
    ngroups = -(-cols // g)
    a = a.reshape(pes, ngroups, g * local)                   # a group's share, column-major
    span = g * local
    ncols = np.full(ngroups, g, dtype=np.int64)
    ncols[-1] = cols - (ngroups - 1) * g
    cap = kmin * ncols                                       # most a share can keep
    k = units * ncols // cols                                # proportional to the group's columns
    extra = units - int(k.sum())                             # < ngroups, each to a distinct group
    srt = np.sort(a, axis=-1)                                # ascending per share
    if extra:
        # groups where one more weight per PE is worth most get it
        nxt = np.take_along_axis(srt, np.clip(span - k - 1, 0, span - 1)[None, :, None]
                                 .repeat(pes, axis=0), axis=-1)[..., 0]
        score = np.maximum(nxt, 0.0).sum(axis=0)
        score[k >= cap] = -np.inf
        order = np.argsort(-score, kind="stable")
        k[order[:extra]] += 1
    # threshold per share: the k_G-th largest magnitude (+inf when k_G = 0)
    kk = np.broadcast_to(k, (pes, ngroups))
    thr = np.take_along_axis(srt, np.clip(span - kk, 0, span - 1)[..., None], axis=-1)[..., 0]
    thr = np.where(kk > 0, thr, np.inf)
    mask = a >= thr[..., None]
    # ties at the threshold: keep the first (lowest column, then row), exactly k_G per share
    over = np.count_nonzero(mask, axis=-1) > kk
    if over.any():
        pi, gi = np.nonzero(over)
        sl = a[pi, gi]                                       # (n_over, span)
        t = thr[pi, gi][:, None]
        eq = sl == t
        allowed = (kk[pi, gi] - (sl > t).sum(axis=-1))[:, None]
        mask[pi, gi] = (sl > t) | (eq & (np.cumsum(eq, axis=-1) <= allowed))
    if local * pes != rows or ngroups * g != cols:
        mask &= a >= 0.0                                     # never the padding rows or columns
    # back to (rows, cols)
    mask = mask.reshape(pes, ngroups * g, local)[:, :cols]
    full = mask.transpose(2, 0, 1).reshape(local * pes, cols)[:rows]
    return np.where(full, w, 0.0)


def pe_nonzeros(weight, pes):
    """Non-zeros of each PE's slice of each column: array (pes, cols)."""
    w = np.asarray(weight)
    if w.ndim != 2:
        raise ModelError(f"weight must be 2-D, got shape {w.shape}")
    pes = _check_pes(pes)
    rows, cols = w.shape
    local = -(-rows // pes)
    nz = np.zeros((local * pes, cols), dtype=np.int64)
    nz[:rows] = w != 0
    return nz.reshape(local, pes, cols).sum(axis=0)


def column_imbalance(weight, pes):
    """Per column: max over PEs of the non-zeros / mean over PEs (1.0 = balanced;
    a column with no non-zeros counts as balanced). Array (cols,)."""
    c = pe_nonzeros(weight, pes)
    mx = c.max(axis=0).astype(np.float64)
    mean = c.mean(axis=0)
    out = np.ones(c.shape[1])
    nz = mean > 0
    out[nz] = mx[nz] / mean[nz]
    return out


def imbalance(weight, pes):
    """Whole-layer imbalance: sum over columns of max-PE non-zeros / sum of the
    mean, i.e. the time EIE spends on the busiest PE per column relative to a
    perfect split (1.0 = balanced; ignores padding entries and FIFO smoothing)."""
    c = pe_nonzeros(weight, pes)
    mean = c.mean(axis=0).sum()
    return float(c.max(axis=0).sum() / mean) if mean > 0 else 1.0
