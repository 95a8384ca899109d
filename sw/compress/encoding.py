"""The (v, z) entry streams of docs/design.md's interleaved CSC, for statistics.

This is the compressor's own, vectorised account of what the packer
(eiegen.sw.packer) stores: per PE, in column order, the non-zeros of the
PE's rows top to bottom as entries (v = codebook index, z = zero local rows
skipped since the previous entry), a run of g zeros becoming g // 16 padding
entries (v = 0, z = 15) and the entry with z = g % 16. It is used for the
Huffman statistics and the compression report; the packer remains the
reference for the memory image (a test checks the two agree).
"""

import dataclasses
import numbers

import numpy as np

from ..errors import ModelError
from ..packer import encode_pe_columns

__all__ = ["EntryStreams", "interleaved_csc", "Z_BITS", "Z_MAX"]

Z_BITS = 4
Z_MAX = (1 << Z_BITS) - 1     # 15: a padding entry stands for 16 zero rows


@dataclasses.dataclass
class EntryStreams:
    pes: int
    v: np.ndarray              # (entries,) uint8 codebook indices, PE 0's entries first
    z: np.ndarray              # (entries,) uint8 relative (zero-run) indices
    pe_offsets: np.ndarray     # (pes + 1,) int64: PE p's entries are [pe_offsets[p], pe_offsets[p+1])
    padding: np.ndarray        # (pes,) int64 padding entries per PE
    nonzeros: int

    @property
    def entries(self):
        return int(self.v.size)

    @property
    def entries_per_pe(self):
        return np.diff(self.pe_offsets)

    def pe(self, p):
        """PE p's (v, z) arrays."""
        s = slice(int(self.pe_offsets[p]), int(self.pe_offsets[p + 1]))
        return self.v[s], self.z[s]


def interleaved_csc(index, pes):
    """Entry streams of one layer's index matrix (outputs x inputs) for `pes` PEs."""
    idx = np.asarray(index)
    if idx.ndim != 2:
        raise ModelError(f"index matrix must be 2-D, got shape {idx.shape}")
    if isinstance(pes, bool) or not isinstance(pes, numbers.Integral) or pes < 1:
        raise ModelError(f"the number of PEs must be a positive integer, got {pes!r}")
    pes = int(pes)
    rows, cols = idx.shape
    local = -(-rows // pes)
    pad = np.zeros((local * pes, cols), dtype=np.uint8)
    pad[:rows] = idx
    # [p, j, l] = index[l * pes + p, j]; C-order non-zeros come out by PE, column, row
    cube = np.ascontiguousarray(pad.reshape(local, pes, cols).transpose(1, 2, 0))
    flat = np.flatnonzero(cube)
    n = flat.size
    if n == 0:
        return EntryStreams(pes, np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                            np.zeros(pes + 1, np.int64), np.zeros(pes, np.int64), 0)
    vals = cube.ravel()[flat]
    slice_id = flat // local                   # p * cols + j: the packer's columns, PE by PE
    lrow = flat - slice_id * local
    pos, z_nz, total, per_slice, _ = encode_pe_columns(slice_id, lrow, pes * cols)
    v = np.zeros(total, dtype=np.uint8)
    z = np.full(total, Z_MAX, dtype=np.uint8)
    v[pos] = vals
    z[pos] = z_nz
    per_pe = per_slice.reshape(pes, cols).sum(axis=1)
    padding = per_pe - np.bincount(slice_id // cols, minlength=pes)
    offsets = np.concatenate([[0], np.cumsum(per_pe)])
    return EntryStreams(pes, v, z, offsets, padding, n)
