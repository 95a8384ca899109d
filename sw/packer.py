"""The packer: a compressed model -> an EIE memory image (interleaved CSC).

docs/design.md, "EIE storage format": row i of W belongs to PE i mod N at local row
i // N; per PE and column, the non-zeros top to bottom become entries (v, z),
a run of g zeros before a non-zero becoming g // 16 padding entries (0, 15)
and then the entry with z = g % 16. Column pointers count entries.
"""

import numpy as np

from ..hw.eie.params import EIEParams
from .errors import CapacityError, ModelError
from .fixedpoint import to_fixed
from .image import Image, LayerImage
from .model import CompressedModel

__all__ = ["pack", "encode_pe_columns", "fit_hint"]


def encode_pe_columns(cols, rows, n_cols):
    """Encode one PE's non-zeros of one layer.

    cols, rows: the non-zeros' column and local row, sorted by column then row.
    Returns (entry position of each non-zero, total entries, entries per column,
    padding entries): entry k of the layer is a padding entry (v = 0, z = 15)
    unless it is at one of the returned positions.
    """
    cols = np.asarray(cols, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    n = len(cols)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0, np.zeros(n_cols, np.int64), 0
    first = np.ones(n, dtype=bool)
    first[1:] = cols[1:] != cols[:-1]
    prev = np.empty(n, dtype=np.int64)
    prev[0] = -1
    prev[1:] = rows[:-1]
    prev[first] = -1
    gap = rows - prev - 1
    pad = gap // 16
    z = gap % 16
    counts = pad + 1
    pos = np.cumsum(counts) - 1
    total = int(pos[-1]) + 1
    per_col = np.bincount(cols, weights=counts, minlength=n_cols).astype(np.int64)
    return pos, z, total, per_col, int(pad.sum())


def pack(model, params, *, check=True):
    """Pack a CompressedModel for an EIE array with generator parameters `params`."""
    if not isinstance(model, CompressedModel):
        raise ModelError("pack needs a compressed model (run `eiegen compress` first, or give "
                         "`eiegen pack` a float model and compression options)")
    if not isinstance(params, EIEParams):
        raise TypeError("params must be an EIEParams")
    n = params.n_pes
    layers = []
    spmat = [[] for _ in range(n)]
    ptrs = [[] for _ in range(n)]
    biases = [[] for _ in range(n)]
    entry_base = np.zeros(n, dtype=np.int64)
    ptr_base = 0
    bias_base = 0
    total_nz = total_entries = total_pad = 0
    for layer in model.layers:
        n_out, n_in = layer.shape
        if len(layer.codebook) > 16:
            raise CapacityError(f"layer '{layer.name}': codebook has {len(layer.codebook)} entries; "
                                "EIE's 4-bit weight index holds 16 (compress with --bits 4 or fewer)")
        cb_float = np.zeros(16)
        cb_float[:len(layer.codebook)] = layer.codebook
        codebook = to_fixed(cb_float, params.frac).astype(np.int64)
        codebook[0] = 0
        in_local = -(-n_in // n)
        out_local = -(-n_out // n)
        n_cols = in_local * n
        bias_q = np.zeros(out_local * n, dtype=np.int16)
        if layer.bias is not None:
            bias_q[:n_out] = to_fixed(layer.bias, params.frac)
        # all non-zeros in column-major order, then split by PE (stable: keeps the order)
        c, r = np.nonzero(layer.index.T)
        pe_of = (r % n).astype(np.int16)
        order = np.argsort(pe_of, kind="stable")
        bounds = np.searchsorted(pe_of[order], np.arange(n + 1))
        vals = layer.index.T[c, r]
        entries, pads = [], []
        for pe in range(n):
            sel = order[bounds[pe]:bounds[pe + 1]]
            cols, lrows, v = c[sel], r[sel] // n, vals[sel].astype(np.int64)
            pos, z, total, per_col, pad = encode_pe_columns(cols, lrows, n_cols)
            ent = np.full(total, 0xF0, dtype=np.uint8)     # padding: v = 0, z = 15
            ent[pos] = (v | (z << 4)).astype(np.uint8)
            spmat[pe].append(ent)
            ptr = entry_base[pe] + np.concatenate([[0], np.cumsum(per_col)])
            ptrs[pe].append(ptr)
            biases[pe].append(bias_q[pe::n])
            entries.append(total)
            pads.append(pad)
            entry_base[pe] += total
        nz = int(len(c))
        layers.append(LayerImage(
            name=layer.name, n_in=n_in, n_out=n_out, relu=layer.relu,
            in_local=in_local, out_local=out_local, ptr_base=ptr_base, bias_base=bias_base,
            codebook=[int(x) for x in codebook], codebook_float=[float(x) for x in cb_float],
            entries=entries, padding=pads, nonzeros=nz, n_pes=n))
        ptr_base += n_cols + 1
        bias_base += out_local
        total_nz += nz
        total_entries += sum(entries)
        total_pad += sum(pads)
    image = Image(params, layers,
                  [np.concatenate(s) if s else np.zeros(0, np.uint8) for s in spmat],
                  [np.concatenate(p).astype(np.int64) for p in ptrs],
                  [np.concatenate(b).astype(np.int16) for b in biases])
    weights = sum(l.index.size for l in model.layers)
    per_pe = [int(len(s)) for s in image.spmat]
    image.stats = {
        "weights": int(weights), "nonzeros": int(total_nz), "density": total_nz / weights,
        "entries": int(total_entries), "padding_entries": int(total_pad),
        "entries_per_pe_max": max(per_pe), "entries_per_pe_mean": float(np.mean(per_pe)),
        "load_balance": (float(np.mean(per_pe)) / max(per_pe)) if max(per_pe) else 1.0,
        "storage_bits": int(total_entries * 8 + sum(len(p) for p in image.ptr) * params.ptr_width
                            + 16 * 16 * len(layers) + 16 * sum(len(b) for b in image.bias)),
    }
    image.stats["compression_ratio_vs_fp32"] = (32 * weights) / image.stats["storage_bits"]
    if check:
        try:
            image.check_capacity()
        except CapacityError as exc:
            raise CapacityError(f"{exc}; {fit_hint(model, params)}") from None
    return image


#: the memories a model fills, as (EIEParams field, command-line option, what)
MEMORIES = (
    ("spmat_depth", "--spmat-depth", "sparse-matrix words per PE"),
    ("ptr_depth", "--ptr-depth", "column pointers per bank per PE"),
    ("bias_depth", "--bias-depth", "bias words per PE"),
    ("act_depth", "--act-depth", "activations per PE per file"),
    ("max_layers", "--max-layers", "layers"),
)


def pow2(n):
    """The smallest power of two >= n (and >= 1)."""
    return 1 << max(0, (max(1, int(n)) - 1).bit_length())


def memory_needs(model, params):
    """{EIEParams field: what `model` (a CompressedModel) needs} for an array
    with params' N and word format: the model packed into unbounded memories."""
    big = params.replace(spmat_depth=1 << 20, ptr_depth=1 << 16, bias_depth=1 << 15,
                         act_depth=1 << 12, max_layers=max(1, min(256, len(model.layers))))
    image = pack(model, big, check=False)
    epw = params.entries_per_word
    return {
        "spmat_depth": max(-(-len(s) // epw) for s in image.spmat),
        "ptr_depth": max(-(-len(p) // 2) for p in image.ptr),
        "bias_depth": max(len(b) for b in image.bias),
        "act_depth": max(max(l.in_local, l.out_local) for l in image.layers),
        "max_layers": len(model.layers),
    }


def options_text(options):
    """'--ptr-depth 1024 --act-depth 128'."""
    return " ".join(f"{k} {v}" for k, v in options.items())


def fit_hint(model, params):
    """What to change so that `model` fits: the generator options, for an
    error message."""
    need = memory_needs(model, params)
    short = [(f, o, w) for f, o, w in MEMORIES if need[f] > getattr(params, f)]
    if not short:
        return "the model fits these parameters"
    try:
        params.replace(**{f: pow2(need[f]) for f, _, _ in short})
    except ValueError:
        f, _, w = max(short, key=lambda m: need[m[0]] / getattr(params, m[0]))
        return f"no EIE array holds it: {f} would have to be {need[f]} ({w})"
    options = {o: pow2(need[f]) for f, o, _ in short}
    return (f"the options that make it fit: {options_text(options)} (for `eiegen pack` "
            f"and the same for `eiegen build`; or pack with --fit; `eiegen fit MODEL --board B` "
            f"checks a board)")
