"""Canonical Huffman codes (Deep Compression's third stage, for the storage report).

The EIE hardware reads fixed 4-bit v and 4-bit z fields; Huffman coding is
what the same entries would cost in storage or on a link. A code is given by
its code lengths (a symbol that never occurs has length 0 and no code); the
canonical code assigns, in order of (length, symbol), consecutive code values,
so the lengths alone define it. Bits are written most significant first.

Counting is vectorised (frequencies times lengths). encode() builds the
bitstream with numpy; decode() uses a lookup table over the next max_length
bits (codes up to 20 bits) and falls back to bit-by-bit canonical decoding.
"""

import heapq

import numpy as np

__all__ = ["HuffmanCode", "huffman_code", "huffman_code_for", "entropy", "TABLE_MAX_BITS"]

TABLE_MAX_BITS = 20


def entropy(frequencies):
    """Shannon entropy in bits per symbol of a frequency vector."""
    f = np.asarray(frequencies, dtype=np.float64).ravel()
    tot = f.sum()
    if tot <= 0:
        return 0.0
    p = f[f > 0] / tot
    return float(-(p * np.log2(p)).sum())


def _code_lengths(freq):
    present = [int(s) for s in np.flatnonzero(freq > 0)]
    lengths = np.zeros(len(freq), dtype=np.int64)
    if not present:
        return lengths
    if len(present) == 1:
        lengths[present[0]] = 1
        return lengths
    # (weight, tie-break, symbols of the subtree); ties go to the earlier-made node
    heap = [(freq[s].item(), i, [s]) for i, s in enumerate(present)]
    heapq.heapify(heap)
    serial = len(heap)
    while len(heap) > 1:
        fa, _, a = heapq.heappop(heap)
        fb, _, b = heapq.heappop(heap)
        for s in a:
            lengths[s] += 1
        for s in b:
            lengths[s] += 1
        heapq.heappush(heap, (fa + fb, serial, a + b))
        serial += 1
    return lengths


class HuffmanCode:
    """A canonical prefix code over symbols 0 .. n_symbols - 1."""

    def __init__(self, lengths):
        lengths = np.asarray(lengths, dtype=np.int64).ravel()
        if (lengths < 0).any() or lengths.max(initial=0) > 63:
            raise ValueError("code lengths must be in [0, 63]")
        kraft = sum(2.0 ** -int(l) for l in lengths if l > 0)
        if kraft > 1.0 + 1e-12:
            raise ValueError(f"code lengths violate the Kraft inequality (sum {kraft})")
        self.lengths = lengths
        self.codes = np.zeros(len(lengths), dtype=np.uint64)
        order = sorted((int(l), s) for s, l in enumerate(lengths) if l > 0)
        code, prev = 0, order[0][0] if order else 0
        self._sorted_symbols = [s for _, s in order]
        for l, s in order:
            code <<= (l - prev)
            self.codes[s] = code
            code += 1
            prev = l

    @property
    def n_symbols(self):
        return len(self.lengths)

    @property
    def max_length(self):
        return int(self.lengths.max(initial=0))

    def table(self):
        """{symbol: code as a '0'/'1' string} for the symbols that have a code."""
        return {s: format(int(self.codes[s]), f"0{int(l)}b")
                for s, l in enumerate(self.lengths) if l > 0}

    def _check_symbols(self, symbols):
        sym = np.asarray(symbols).ravel()
        if sym.size and not np.issubdtype(sym.dtype, np.integer):
            raise ValueError(f"symbols must be integers, got {sym.dtype}")
        sym = sym.astype(np.int64)
        if sym.size and (sym.min() < 0 or sym.max() >= self.n_symbols):
            raise ValueError(f"symbols must be in [0, {self.n_symbols})")
        return sym

    def bit_count_from_counts(self, counts):
        """Bits to code symbols occurring counts[s] times."""
        c = np.asarray(counts, dtype=np.int64).ravel()
        if c.shape != self.lengths.shape:
            raise ValueError(f"counts must have {self.n_symbols} entries, got {c.shape}")
        if (c[self.lengths == 0] > 0).any():
            raise ValueError("a symbol without a code occurs in the data")
        return int(c @ self.lengths)

    def bit_count(self, symbols):
        """Bits to code the symbol sequence."""
        sym = self._check_symbols(symbols)
        return self.bit_count_from_counts(np.bincount(sym, minlength=self.n_symbols))

    def average_length(self, counts):
        """Mean code length in bits per symbol for the given symbol counts."""
        c = np.asarray(counts, dtype=np.int64)
        tot = int(c.sum())
        return self.bit_count_from_counts(c) / tot if tot else 0.0

    def encode(self, symbols):
        """symbols -> (bytes, number of bits); the last byte is zero-padded."""
        sym = self._check_symbols(symbols)
        L = self.lengths[sym]
        if (L == 0).any():
            s = int(sym[np.flatnonzero(L == 0)[0]])
            raise ValueError(f"symbol {s} has no code (it had frequency 0)")
        C = self.codes[sym]
        total = int(L.sum())
        start = np.cumsum(L) - L
        bits = np.zeros(total, dtype=np.uint8)
        for b in range(self.max_length):
            sel = np.flatnonzero(L > b)
            shift = (L[sel] - 1 - b).astype(np.uint64)
            bits[start[sel] + b] = ((C[sel] >> shift) & np.uint64(1)).astype(np.uint8)
        return np.packbits(bits).tobytes(), total

    def decode(self, data, count, nbits=None):
        """Decode `count` symbols from bytes written by encode()."""
        bits = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))
        if nbits is not None:
            bits = bits[:nbits]
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        if self.max_length == 0:
            raise ValueError("the code has no symbols")
        if self.max_length <= TABLE_MAX_BITS:
            return self._decode_table(bits, count)
        return self._decode_bitwise(bits, count)

    def _decode_table(self, bits, count):
        m = self.max_length
        n = bits.size
        padded = np.concatenate([bits, np.zeros(m, dtype=np.uint8)]).astype(np.int64)
        window = np.zeros(n, dtype=np.int64)
        for b in range(m):
            window = (window << 1) | padded[b:b + n]
        sym_tab = np.zeros(1 << m, dtype=np.int64)
        len_tab = np.zeros(1 << m, dtype=np.int64)
        for s, l in enumerate(self.lengths):
            if l:
                lo = int(self.codes[s]) << (m - int(l))
                hi = (int(self.codes[s]) + 1) << (m - int(l))
                sym_tab[lo:hi] = s
                len_tab[lo:hi] = l
        win, stab, ltab = window.tolist(), sym_tab.tolist(), len_tab.tolist()
        out = [0] * count
        p = 0
        for i in range(count):
            if p >= n:
                raise ValueError(f"bitstream ends after {i} of {count} symbols")
            w = win[p]
            l = ltab[w]
            if l == 0 or p + l > n:
                raise ValueError(f"invalid or truncated code at bit {p} (symbol {i})")
            out[i] = stab[w]
            p += l
        return np.array(out, dtype=np.int64)

    def _decode_bitwise(self, bits, count):
        # canonical decoding: per length, the first code and the first symbol's rank
        m = self.max_length
        n_of = [0] * (m + 2)
        for l in self.lengths:
            if l:
                n_of[int(l)] += 1
        first_code = [0] * (m + 2)
        first_rank = [0] * (m + 2)
        code = rank = 0
        for l in range(1, m + 1):
            code = (code + n_of[l - 1]) << 1 if l > 1 else 0
            first_code[l] = code
            first_rank[l] = rank
            rank += n_of[l]
        syms = self._sorted_symbols
        b = bits.tolist()
        n = len(b)
        out = [0] * count
        p = 0
        for i in range(count):
            code = 0
            for l in range(1, m + 1):
                if p >= n:
                    raise ValueError(f"bitstream ends after {i} of {count} symbols")
                code = (code << 1) | b[p]
                p += 1
                off = code - first_code[l]
                if 0 <= off < n_of[l]:
                    out[i] = syms[first_rank[l] + off]
                    break
            else:
                raise ValueError(f"invalid code at bit {p} (symbol {i})")
        return np.array(out, dtype=np.int64)


def huffman_code(frequencies):
    """The canonical Huffman code for a frequency vector (index = symbol)."""
    f = np.asarray(frequencies)
    if f.ndim != 1 or f.size == 0:
        raise ValueError("frequencies must be a non-empty 1-D array")
    if (f < 0).any() or not np.isfinite(f.astype(np.float64)).all():
        raise ValueError("frequencies must be finite and >= 0")
    return HuffmanCode(_code_lengths(f))


def huffman_code_for(symbols, n_symbols=None):
    """(code, counts) for a symbol sequence; n_symbols defaults to max + 1."""
    sym = np.asarray(symbols).ravel().astype(np.int64)
    if n_symbols is None:
        n_symbols = int(sym.max()) + 1 if sym.size else 1
    counts = np.bincount(sym, minlength=n_symbols)
    if counts.size > n_symbols:
        raise ValueError(f"symbols exceed n_symbols={n_symbols}")
    return huffman_code(counts), counts
