import heapq
import itertools

import numpy as np
import pytest

from eiegen.sw.compress.huffman import HuffmanCode, entropy, huffman_code, huffman_code_for


def _optimal_cost(freq):
    """Total bits of an optimal prefix code: the sum of all merged weights."""
    h = [f for f in freq if f > 0]
    if len(h) == 1:
        return h[0]
    heapq.heapify(h)
    cost = 0
    while len(h) > 1:
        s = heapq.heappop(h) + heapq.heappop(h)
        cost += s
        heapq.heappush(h, s)
    return cost


def _prefix_free(table):
    codes = list(table.values())
    return not any(a != b and b.startswith(a) for a, b in itertools.permutations(codes, 2))


def test_textbook_example():
    # CLRS 16.3: a:45 b:13 c:12 d:16 e:9 f:5 -> 224 bits, a gets 1 bit, e and f 4 bits
    f = [45, 13, 12, 16, 9, 5]
    code = huffman_code(f)
    assert code.bit_count_from_counts(f) == 224
    assert list(code.lengths) == [1, 3, 3, 3, 4, 4]
    assert _prefix_free(code.table())


@pytest.mark.parametrize("seed", range(8))
def test_prefix_free_and_length_is_sum_freq_times_len(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    freq = rng.integers(0, 1000, size=n) * (rng.random(n) < 0.8)
    freq[rng.integers(n)] += 1
    freq[rng.integers(n)] += 1
    code = huffman_code(freq)
    table = code.table()
    assert set(table) == set(np.flatnonzero(freq).tolist())        # no code for unused symbols
    assert _prefix_free(table)
    for s, c in table.items():
        assert len(c) == code.lengths[s]
    total = int(sum(int(f) * int(l) for f, l in zip(freq, code.lengths)))
    assert code.bit_count_from_counts(freq) == total
    assert total == _optimal_cost(freq.tolist())                    # optimal
    used = (code.lengths > 0).sum()
    if used >= 2:                                                   # a full tree: Kraft equality
        assert sum(2.0 ** -int(l) for l in code.lengths if l) == pytest.approx(1.0)
        h = entropy(freq)
        assert h <= code.average_length(freq) < h + 1


def test_encode_decode_roundtrip():
    rng = np.random.default_rng(3)
    sym = rng.choice(16, size=5000, p=np.r_[0.4, np.full(15, 0.04)])
    code, counts = huffman_code_for(sym, 16)
    data, nbits = code.encode(sym)
    assert nbits == code.bit_count(sym) == int(counts @ code.lengths)
    assert len(data) == -(-nbits // 8)
    assert np.array_equal(code.decode(data, len(sym), nbits), sym)
    # the bit string is the concatenation of the table's codes
    table = code.table()
    bits = "".join(table[int(s)] for s in sym[:50])
    assert "".join(format(b, "08b") for b in data)[:len(bits)] == bits


def test_long_codes_use_bitwise_decoding():
    fib = [1, 1]
    while len(fib) < 26:
        fib.append(fib[-1] + fib[-2])
    code = huffman_code(fib)                     # Fibonacci weights: a 25-bit deepest code
    assert code.max_length == 25
    sym = np.array([0, 1, 25, 3, 0, 24, 12])
    data, nbits = code.encode(sym)
    assert np.array_equal(code.decode(data, len(sym), nbits), sym)


def test_single_symbol_and_errors():
    code = huffman_code([0, 7, 0])
    assert list(code.lengths) == [0, 1, 0]
    data, nbits = code.encode([1, 1, 1])
    assert nbits == 3 and list(code.decode(data, 3, nbits)) == [1, 1, 1]
    with pytest.raises(ValueError, match="symbol 0 has no code"):
        code.encode([0])
    full = huffman_code([5, 3, 1, 1])
    data, nbits = full.encode([2, 3, 2])
    with pytest.raises(ValueError, match="ends after|truncated"):
        full.decode(data, 3, nbits - 2)
    with pytest.raises(ValueError, match="Kraft"):
        HuffmanCode([1, 1, 1])
    with pytest.raises(ValueError, match="frequencies"):
        huffman_code([-1, 2])
