"""Host-bus addresses and word packing of the systolic unit's memories.

Address = target << 24 | word index (docs/systolic.md, "Host bus map").
A row of a lane memory is `chunks` words; word k of row r has index
r << chunk_bits | k and holds lanes k*chunk_lanes .. as `bytes_per_lane`
little-endian two's-complement bytes each. Accumulators: one lane per word,
index r << lane_bits | lane. Instructions: one per word.
"""

import numpy as np

from ...hw.systolic.params import TARGETS, REGS

__all__ = ["Layout", "layout", "reg_addr", "write_words", "read_addrs", "decode_words", "STATUS_BITS"]

STATUS_BITS = {"busy": 0, "done": 1, "waiting": 2, "error": 3}


class Layout:
    def __init__(self, target, lanes, chunk_lanes, lane_bits, sub_bits, depth):
        self.target, self.lanes, self.chunk_lanes = target, lanes, chunk_lanes
        self.lane_bits, self.sub_bits, self.depth = lane_bits, sub_bits, depth
        self.chunks = -(-lanes // chunk_lanes)

    def index(self, row, sub):
        return (row << self.sub_bits) | sub

    def addr(self, row, sub):
        return (self.target << 24) | self.index(row, sub)


def _clog2(n):
    return max(0, (n - 1).bit_length())


def layout(params, memory):
    p = params
    if memory == "ub":
        return Layout(TARGETS["ub"], p.ub_lanes, p.chunk_lanes(p.ub_lanes), 8 * p.lane_bytes,
                      _clog2(p.ub_chunks_padded), p.ub_depth)
    if memory == "wmem":
        return Layout(TARGETS["wmem"], p.cols, p.chunk_lanes(p.cols), 8 * p.lane_bytes,
                      _clog2(p.w_chunks_padded), p.wmem_depth)
    if memory == "acc":
        return Layout(TARGETS["acc"], p.cols, 1, 8 * p.acc_bytes, _clog2(p.acc_lanes_padded),
                      p.acc_depth)
    if memory == "imem":
        return Layout(TARGETS["imem"], 1, 1, 64, 0, p.imem_depth)
    raise ValueError(f"unknown systolic memory {memory!r}; known: ub, wmem, acc, imem")


def reg_addr(name):
    return (TARGETS["regs"] << 24) | REGS[name]


def write_words(params, memory, base, rows):
    """(addresses, data) uint64 arrays that write `rows` (n, lanes) from row `base`."""
    lo = layout(params, memory)
    rows = np.asarray(rows)
    if rows.ndim == 1:
        rows = rows.reshape(-1, 1)
    n = rows.shape[0]
    if base + n > lo.depth:
        raise ValueError(f"{memory}: rows {base}..{base + n - 1} do not exist (depth {lo.depth})")
    addrs, datas = [], []
    mask = (1 << lo.lane_bits) - 1
    for r in range(n):
        for k in range(lo.chunks):
            word = 0
            for j in range(lo.chunk_lanes):
                lane = k * lo.chunk_lanes + j
                if lane < min(lo.lanes, rows.shape[1]):
                    word |= (int(rows[r, lane]) & mask) << (j * lo.lane_bits)
            addrs.append(lo.addr(base + r, k))
            datas.append(word)
    return np.array(addrs, dtype=np.uint64), np.array(datas, dtype=np.uint64)


def read_addrs(params, memory, base, n):
    lo = layout(params, memory)
    if base + n > lo.depth:
        raise ValueError(f"{memory}: rows {base}..{base + n - 1} do not exist (depth {lo.depth})")
    return np.array([lo.addr(base + r, k) for r in range(n) for k in range(lo.chunks)],
                    dtype=np.uint64)


def decode_words(params, memory, words, n, signed=True):
    """The (n, lanes) rows that read_addrs' words came back as."""
    lo = layout(params, memory)
    words = [int(w) for w in words]
    out = np.zeros((n, lo.lanes), dtype=np.int64 if lo.lane_bits < 64 else object)
    half = 1 << (lo.lane_bits - 1)
    mask = (1 << lo.lane_bits) - 1
    for r in range(n):
        for k in range(lo.chunks):
            w = words[r * lo.chunks + k]
            for j in range(lo.chunk_lanes):
                lane = k * lo.chunk_lanes + j
                if lane < lo.lanes:
                    v = (w >> (j * lo.lane_bits)) & mask
                    if signed and v >= half:
                        v -= 1 << lo.lane_bits
                    out[r, lane] = v
    return out
