import numpy as np
import pytest

from eiegen.sw.compress import compression_report
from eiegen.sw.errors import ModelError
from eiegen.sw.model import CompressedLayer, CompressedModel, FloatLayer, FloatModel


def _model():
    # layer a: 6 x 3, codebook of 4 (2-bit v); with N = 2, PE 0 holds rows 0, 2, 4
    a = np.array([[1, 0, 0],
                  [0, 2, 0],
                  [0, 0, 0],
                  [3, 0, 0],
                  [1, 0, 3],
                  [0, 0, 0]], dtype=np.uint8)
    # layer b: 40 x 6, only column 0: rows 1, 3 (PE 1, local 0 and 1) and 36 (PE 0, local 18)
    b = np.zeros((40, 6), dtype=np.uint8)
    b[1, 0] = b[3, 0] = 1
    b[36, 0] = 2
    return CompressedModel([
        CompressedLayer("a", np.array([0.0, -1.0, 0.5, 2.0]), a, np.ones(6), True),
        CompressedLayer("b", np.array([0.0, 0.5, -1.0]), b, None, False)])


def test_small_example_by_hand():
    r = compression_report(_model(), pes=2)
    a, b = r.layers
    # a: PE 0 entries (1,0) (1,1) in column 0 and (3,2) in column 2; PE 1 (3,1) and (2,0)
    #    v counts {1: 2, 2: 1, 3: 2} -> Huffman merges 1+2, 2+3 -> 8 bits; z {0: 2, 1: 2, 2: 1} -> 8 bits
    assert (a.weights, a.nonzeros, a.entries, a.padding) == (18, 5, 5, 0)
    assert a.density == pytest.approx(5 / 18)
    assert (a.codebook_size, a.weight_bits, a.index_bits) == (4, 2, 4)
    assert (a.entries_per_pe_max, a.entries_per_pe_mean, a.load_balance) == (3, 2.5, pytest.approx(2.5 / 3))
    assert a.huffman_weight_bits == pytest.approx(8 / 5) and a.huffman_index_bits == pytest.approx(8 / 5)
    assert a.bits_per_weight == 30 / 5 and a.bits_per_weight_huffman == pytest.approx(16 / 5)
    assert a.index_overhead == pytest.approx(1 - 10 / 30)
    assert a.index_overhead_huffman == pytest.approx(1 - 8 / 16)
    assert (a.entry_bytes, a.entry_bytes_huffman) == (4, 2)          # 30 bits, 16 bits
    assert (a.codebook_bytes, a.bias_bytes, a.huffman_table_bytes) == (16, 24, 4 + 16)
    assert (a.compressed_bytes, a.compressed_bytes_huffman, a.dense_bytes) == (44, 62, 96)
    assert a.ratio == pytest.approx(96 / 44) and a.ratio_huffman == pytest.approx(96 / 62)
    assert a.pointer_bytes == 3                 # 2 PEs x 5 pointers x 2 bits = 20 bits
    # b: PE 0: 18 zero rows -> padding (0,15) then (2,2); PE 1: (1,0) (1,0)
    #    v {0: 1, 1: 2, 2: 1} -> 6 bits, v = 0 coded in 2 bits; z {0: 2, 2: 1, 15: 1} -> 6 bits
    assert (b.weights, b.nonzeros, b.entries, b.padding) == (240, 3, 4, 1)
    assert (b.weight_bits, b.entries_per_pe_max, b.load_balance) == (2, 2, 1.0)
    assert b.huffman_weight_bits == pytest.approx(6 / 4) and b.huffman_index_bits == pytest.approx(6 / 4)
    assert b.bits_per_weight == 24 / 3 and b.bits_per_weight_huffman == pytest.approx(12 / 3)
    assert b.index_overhead == pytest.approx(1 - 6 / 24)
    assert b.index_overhead_huffman == pytest.approx(1 - (6 - 2) / 12)
    assert (b.entry_bytes, b.entry_bytes_huffman, b.codebook_bytes, b.bias_bytes) == (3, 2, 12, 0)
    assert (b.compressed_bytes, b.compressed_bytes_huffman, b.dense_bytes) == (15, 2 + 19 + 12, 960)
    assert b.pointer_bytes == 4                 # 2 PEs x 7 pointers x 2 bits = 28 bits
    t = r.total
    assert (t["weights"], t["nonzeros"], t["entries"], t["padding"]) == (258, 8, 9, 1)
    assert (t["compressed_bytes"], t["compressed_bytes_huffman"], t["dense_bytes"]) == (59, 95, 1056)
    assert t["ratio"] == pytest.approx(1056 / 59) and t["ratio_huffman"] == pytest.approx(1056 / 95)
    assert t["bits_per_weight"] == pytest.approx(54 / 8) and t["bits_per_weight_huffman"] == pytest.approx(28 / 8)
    assert t["ratio_with_pointers"] == pytest.approx(1056 / 66)
    text = r.table()
    assert "a      6x3" in text and "b      40x6" in text and "total" in text
    assert "17.9x" in text                       # 1056 / 59
    d = r.to_dict()
    assert d["pes"] == 2 and d["layers"][1]["shape"] == [40, 6] and d["total"]["padding"] == 1


def test_original_gives_dense_size_and_error():
    m = _model()
    orig = FloatModel([FloatLayer(l.name, l.dense() + 0.1 * (l.index != 0), None, l.relu)
                       for l in m.layers])
    r = compression_report(m, orig, pes=1)
    for lr, l, o in zip(r.layers, m.layers, orig.layers):
        assert lr.dense_bytes == 4 * l.index.size             # the original has no bias
        expect = np.linalg.norm(o.weight - l.dense()) / np.linalg.norm(o.weight)
        assert lr.weight_error == pytest.approx(expect)
    assert "relative weight error" in r.table()


def test_bad_arguments():
    with pytest.raises(ModelError, match="number of PEs"):
        compression_report(_model(), pes=0)
    with pytest.raises(ModelError, match="needs a CompressedModel"):
        compression_report("x")
    other = FloatModel([FloatLayer("z", np.ones((6, 3)))])
    with pytest.raises(ModelError, match="are not the compressed model's"):
        compression_report(_model(), other)
