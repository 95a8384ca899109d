"""The compression report: Deep Compression's storage table for a compressed model.

Per layer and in total (docs/compression.md explains every column):
shape, density, weight bits (codebook index width) and index bits (4-bit z)
fixed and with Huffman coding, padding entries, entries per PE for N PEs,
bits per non-zero weight, index overhead, compressed bytes (entries +
codebook + bias, and with Huffman the code tables too) and the ratio against
the dense 32-bit model. Column pointers are reported apart (pointer_bytes)
and are not in the ratios, as in Deep Compression's tables.

Storage conventions: the dense model and the compressed codebooks and biases
count 32 bits a number; the entry streams are those of docs/design.md's
interleaved CSC for N PEs (padding entries included).
"""

import dataclasses
import math

import numpy as np

from ..errors import ModelError
from ..model import CompressedModel, FloatModel
from .encoding import interleaved_csc, Z_BITS
from .huffman import huffman_code

__all__ = ["LayerReport", "Report", "compression_report", "layer_report", "dense_weight_bits",
           "pruned_model_bits", "quantized_model_bits"]

FLOAT_BYTES = 4


@dataclasses.dataclass
class LayerReport:
    name: str
    shape: tuple                    # (outputs, inputs)
    weights: int                    # outputs * inputs
    nonzeros: int                   # weights with a non-zero codebook index
    density: float                  # nonzeros / weights
    codebook_size: int              # entries including the reserved 0.0
    weight_bits: int                # fixed width of v: ceil(log2(codebook_size)), >= 1
    index_bits: int                 # fixed width of z (4)
    entries: int                    # stored entries, padding included, all PEs
    padding: int                    # padding entries (v = 0, z = 15)
    entries_per_pe_max: int
    entries_per_pe_mean: float
    load_balance: float             # entries_per_pe_mean / entries_per_pe_max (1.0 = even)
    huffman_weight_bits: float      # mean Huffman code length of v, per entry
    huffman_index_bits: float       # mean Huffman code length of z, per entry
    bits_per_weight: float          # entry bits (fixed fields) per non-zero weight
    bits_per_weight_huffman: float  # entry bits (Huffman) per non-zero weight
    index_overhead: float           # share of entry bits not holding a non-zero's value (fixed)
    index_overhead_huffman: float   # the same with Huffman codes
    entry_bytes: int                # ceil(entries * (weight_bits + index_bits) / 8)
    entry_bytes_huffman: int        # ceil(Huffman bits of v and z / 8)
    huffman_table_bytes: int        # one byte per code length: codebook_size + 16
    codebook_bytes: int             # 4 bytes per codebook entry
    bias_bytes: int                 # 4 bytes per output (0 without bias)
    pointer_bytes: int              # N PEs x (padded columns + 1) pointers, not in the ratios
    compressed_bytes: int           # entry + codebook + bias bytes
    compressed_bytes_huffman: int   # Huffman entry + table + codebook + bias bytes
    dense_bytes: int                # 4 bytes per weight and bias of the original
    ratio: float                    # dense_bytes / compressed_bytes
    ratio_huffman: float            # dense_bytes / compressed_bytes_huffman
    weight_error: float | None = None   # ||W - W_q||_F / ||W||_F when the original is given
    sparsity: float | None = None       # the pruning target used (CompressedLayer.sparsity), when known

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        return d


_TOTAL_SUMS = ("weights", "nonzeros", "entries", "padding", "entry_bytes", "entry_bytes_huffman",
               "huffman_table_bytes", "codebook_bytes", "bias_bytes", "pointer_bytes",
               "compressed_bytes", "compressed_bytes_huffman", "dense_bytes")


@dataclasses.dataclass
class Report:
    pes: int
    layers: list                    # [LayerReport]

    @property
    def total(self):
        t = {k: int(sum(getattr(l, k) for l in self.layers)) for k in _TOTAL_SUMS}
        nz = t["nonzeros"]
        t["density"] = nz / t["weights"] if t["weights"] else 0.0
        fixed_bits = sum(l.entries * (l.weight_bits + l.index_bits) for l in self.layers)
        huff_bits = sum(l.entries * (l.huffman_weight_bits + l.huffman_index_bits) for l in self.layers)
        t["bits_per_weight"] = fixed_bits / nz if nz else 0.0
        t["bits_per_weight_huffman"] = huff_bits / nz if nz else 0.0
        t["ratio"] = t["dense_bytes"] / t["compressed_bytes"]
        t["ratio_huffman"] = t["dense_bytes"] / t["compressed_bytes_huffman"]
        t["ratio_with_pointers"] = t["dense_bytes"] / (t["compressed_bytes"] + t["pointer_bytes"])
        return t

    def to_dict(self):
        return {"pes": self.pes, "layers": [l.to_dict() for l in self.layers], "total": self.total}

    def table(self):
        with_sp = any(l.sparsity is not None for l in self.layers)
        head = ["layer", "shape", "density", "w bits", "w H", "i bits", "i H", "padding",
                "entries/PE", "bits/w", "bits/w H", "idx ovh", "bytes", "bytes H", "ratio", "ratio H"]
        rows = []
        for l in self.layers:
            rows.append([l.name, f"{l.shape[0]}x{l.shape[1]}", f"{l.density:.2%}", str(l.weight_bits),
                         f"{l.huffman_weight_bits:.2f}", str(l.index_bits), f"{l.huffman_index_bits:.2f}",
                         str(l.padding), str(l.entries_per_pe_max), f"{l.bits_per_weight:.2f}",
                         f"{l.bits_per_weight_huffman:.2f}", f"{l.index_overhead:.1%}",
                         _size(l.compressed_bytes), _size(l.compressed_bytes_huffman),
                         f"{l.ratio:.1f}x", f"{l.ratio_huffman:.1f}x"])
            if with_sp:
                rows[-1].insert(2, "-" if l.sparsity is None else f"{l.sparsity:.3g}")
        t = self.total
        rows.append(["total", "", f"{t['density']:.2%}", "", "", "", "", str(t["padding"]), "",
                     f"{t['bits_per_weight']:.2f}", f"{t['bits_per_weight_huffman']:.2f}", "",
                     _size(t["compressed_bytes"]), _size(t["compressed_bytes_huffman"]),
                     f"{t['ratio']:.1f}x", f"{t['ratio_huffman']:.1f}x"])
        if with_sp:
            head.insert(2, "sparsity")
            rows[-1].insert(2, "")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

        def fmt(r):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

        lines = [f"compression report for N = {self.pes} PEs (fixed: v + z bit fields per entry; "
                 "H: Huffman coded)", fmt(head), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in rows[:-1]]
        lines.append(fmt(["-" * w for w in widths]))
        lines.append(fmt(rows[-1]))
        lines.append(f"dense fp32 {_size(t['dense_bytes'])}; column pointers for {self.pes} PEs "
                     f"{_size(t['pointer_bytes'])} more (ratio with pointers {t['ratio_with_pointers']:.1f}x)")
        errs = [(l.name, l.weight_error) for l in self.layers if l.weight_error is not None]
        if errs:
            lines.append("relative weight error ||W - Wq|| / ||W||: "
                         + ", ".join(f"{n} {e:.3f}" for n, e in errs))
        return "\n".join(lines)


def _size(n):
    if n < 10 * 1024:
        return f"{n} B"
    if n < 10 * 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def layer_report(layer, pes, original=None):
    """LayerReport of one CompressedLayer for `pes` PEs; `original` is the
    FloatLayer it came from (for the dense size and the weight error)."""
    n_out, n_in = layer.shape
    weights = n_out * n_in
    k = len(layer.codebook)
    wbits = max(1, math.ceil(math.log2(k)))
    st = interleaved_csc(layer.index, pes)
    nz, entries, padding = st.nonzeros, st.entries, int(st.padding.sum())
    per_pe = st.entries_per_pe
    if entries:
        v_counts = np.bincount(st.v, minlength=k)
        z_counts = np.bincount(st.z, minlength=1 << Z_BITS)
        v_code, z_code = huffman_code(v_counts), huffman_code(z_counts)
        v_bits, z_bits = v_code.bit_count_from_counts(v_counts), z_code.bit_count_from_counts(z_counts)
        v_bits_nz = v_bits - padding * int(v_code.lengths[0])
        table_bytes = k + (1 << Z_BITS)
    else:
        v_bits = z_bits = v_bits_nz = table_bytes = 0
    fixed_bits = entries * (wbits + Z_BITS)
    huff_bits = v_bits + z_bits
    codebook_bytes = FLOAT_BYTES * k
    bias_bytes = FLOAT_BYTES * n_out if layer.bias is not None else 0
    in_local = -(-n_in // pes)
    ptr_width = max(1, int(per_pe.max(initial=0)).bit_length())
    pointer_bytes = -(-pes * (in_local * pes + 1) * ptr_width // 8)
    weight_error = None
    if original is not None:
        if original.shape != layer.shape:
            raise ModelError(f"layer '{layer.name}': the original weight has shape {original.shape}, "
                             f"the compressed one {layer.shape}")
        dense_bytes = FLOAT_BYTES * (weights + (n_out if original.bias is not None else 0))
        norm = float(np.linalg.norm(original.weight))
        diff = float(np.linalg.norm(original.weight - layer.dense()))
        weight_error = diff / norm if norm else diff
    else:
        dense_bytes = FLOAT_BYTES * (weights + (n_out if layer.bias is not None else 0))
    entry_bytes = -(-fixed_bits // 8)
    entry_bytes_h = -(-huff_bits // 8)
    compressed = entry_bytes + codebook_bytes + bias_bytes
    compressed_h = entry_bytes_h + table_bytes + codebook_bytes + bias_bytes
    return LayerReport(
        name=layer.name, shape=(n_out, n_in), weights=weights, nonzeros=nz,
        density=nz / weights, codebook_size=k, weight_bits=wbits, index_bits=Z_BITS,
        entries=entries, padding=padding,
        entries_per_pe_max=int(per_pe.max(initial=0)), entries_per_pe_mean=float(per_pe.mean()),
        load_balance=float(per_pe.mean() / per_pe.max()) if entries else 1.0,
        huffman_weight_bits=v_bits / entries if entries else 0.0,
        huffman_index_bits=z_bits / entries if entries else 0.0,
        bits_per_weight=fixed_bits / nz if nz else 0.0,
        bits_per_weight_huffman=huff_bits / nz if nz else 0.0,
        index_overhead=1.0 - nz * wbits / fixed_bits if fixed_bits else 0.0,
        index_overhead_huffman=1.0 - v_bits_nz / huff_bits if huff_bits else 0.0,
        entry_bytes=entry_bytes, entry_bytes_huffman=entry_bytes_h, huffman_table_bytes=table_bytes,
        codebook_bytes=codebook_bytes, bias_bytes=bias_bytes, pointer_bytes=pointer_bytes,
        compressed_bytes=compressed, compressed_bytes_huffman=compressed_h, dense_bytes=dense_bytes,
        ratio=dense_bytes / compressed, ratio_huffman=dense_bytes / compressed_h,
        weight_error=weight_error, sparsity=layer.sparsity)


def compression_report(compressed, original=None, pes=1):
    """Report for a CompressedModel; `original` (FloatModel or None) supplies the
    dense sizes and weight errors; `pes` is N for the interleaved CSC figures."""
    if not isinstance(compressed, CompressedModel):
        raise ModelError("compression_report needs a CompressedModel")
    if isinstance(pes, bool) or not isinstance(pes, (int, np.integer)) or pes < 1:
        raise ModelError(f"the number of PEs must be a positive integer, got {pes!r}")
    orig = {}
    if original is not None:
        if not isinstance(original, FloatModel):
            raise ModelError("the original model must be a FloatModel")
        orig = {l.name: l for l in original.layers}
        names = [l.name for l in compressed.layers]
        if sorted(orig) != sorted(names):
            raise ModelError(f"the original model's layers ({', '.join(orig)}) are not the "
                             f"compressed model's ({', '.join(names)})")
    return Report(int(pes), [layer_report(l, int(pes), orig.get(l.name)) for l in compressed.layers])


# -- the size model of Han's thesis Fig. 4.9 (weights only, one PE's CSC) ------------

def _csc_entries(index_or_weight):
    return interleaved_csc(np.asarray(index_or_weight) != 0, 1).entries


def dense_weight_bits(model):
    """Bits of the dense fp32 weights (biases left out, as in the thesis' figure)."""
    return 32 * sum(l.shape[0] * l.shape[1] for l in model.layers)


def pruned_model_bits(model):
    """Bits of a pruned float model in CSC: a 32-bit value and a 4-bit relative
    row index per entry, padding entries included."""
    return sum(_csc_entries(l.weight) * (32 + Z_BITS) for l in model.layers)


def quantized_model_bits(compressed, *, pruned):
    """Bits of a quantized model: with pruning, (b + 4) per CSC entry; without,
    b per weight; plus 32 bits per codebook entry (not the reserved zero)."""
    bits = 0
    for l in compressed.layers:
        b = max(1, int(np.ceil(np.log2(len(l.codebook)))))
        if pruned:
            bits += _csc_entries(l.index) * (b + Z_BITS)
        else:
            bits += l.index.size * b
        bits += 32 * (len(l.codebook) - 1)
    return bits
