import numpy as np
import pytest
import scipy.sparse as sp

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.errors import CapacityError, ModelError
from eiegen.sw.model import CompressedLayer, CompressedModel
from eiegen.sw.packer import pack
from eiegen.sim.testdata import random_compressed_model, random_codebook

CB = np.concatenate([[0.0], np.arange(1, 16) / 16])


def _one_column(values):
    idx = np.array(values, dtype=np.uint8)[:, None]
    return CompressedModel([CompressedLayer("l", CB, idx, None, False)])


def test_paper_example():
    # EIE paper / docs/design.md: [0, 0, 1, 2, 0 x 18, 3] -> v = [1, 2, 0, 3], z = [2, 0, 15, 2]
    im = pack(_one_column([0, 0, 1, 2] + [0] * 18 + [3]), EIEParams(n_pes=1))
    e = im.spmat[0]
    assert list(e & 0xF) == [1, 2, 0, 3]
    assert list(e >> 4) == [2, 0, 15, 2]
    assert list(im.ptr[0]) == [0, 4]
    assert im.layers[0].padding == [1]


@pytest.mark.parametrize("gap, expect", [
    (0, [(5, 0)]), (15, [(5, 15)]), (16, [(0, 15), (5, 0)]), (31, [(0, 15), (5, 15)]),
    (32, [(0, 15), (0, 15), (5, 0)]), (40, [(0, 15), (0, 15), (5, 8)]),
])
def test_padding_entries(gap, expect):
    im = pack(_one_column([0] * gap + [5] + [0] * 7), EIEParams(n_pes=1, act_depth=64))
    got = [(int(v & 0xF), int(v >> 4)) for v in im.spmat[0]]
    assert got == expect
    assert im.decode()[0].index[:, 0].tolist() == [0] * gap + [5] + [0] * 7


def test_trailing_zeros_not_stored_and_empty_columns():
    idx = np.zeros((8, 3), dtype=np.uint8)
    idx[1, 1] = 7
    im = pack(CompressedModel([CompressedLayer("l", CB, idx)]), EIEParams(n_pes=1))
    assert list(im.ptr[0]) == [0, 0, 1, 1]
    assert len(im.spmat[0]) == 1


def test_interleaving_rows_to_pes():
    # row i -> PE i mod N at local row i // N
    idx = np.zeros((8, 1), dtype=np.uint8)
    idx[5, 0] = 3      # PE 1, local row 1
    idx[6, 0] = 4      # PE 2, local row 1
    im = pack(CompressedModel([CompressedLayer("l", CB, idx)]), EIEParams(n_pes=4))
    assert [len(s) for s in im.spmat] == [0, 1, 1, 0]
    assert im.spmat[1][0] == (3 | (1 << 4))
    assert im.spmat[2][0] == (4 | (1 << 4))
    # pointers: in_local = 1 column per PE... n_cols_padded = 4 -> 5 pointers per PE
    assert list(im.ptr[1]) == [0, 1, 1, 1, 1]


def test_pointer_banks_even_odd():
    rng = np.random.default_rng(3)
    m = random_compressed_model(rng, [9, 6], 0.5)
    im = pack(m, EIEParams(n_pes=2))
    for pe in range(2):
        even, odd = im.ptr_banks(pe)
        assert list(even) == list(im.ptr[pe][0::2])
        assert list(odd) == list(im.ptr[pe][1::2])


@pytest.mark.parametrize("n_pes", [1, 2, 3, 4, 7, 16, 64])
@pytest.mark.parametrize("epw", [1, 2, 4, 8])
def test_roundtrip_exact(n_pes, epw):
    rng = np.random.default_rng(n_pes * 10 + epw)
    for density in (0.0, 0.03, 0.3, 1.0):
        m = random_compressed_model(rng, [int(rng.integers(1, 90)), int(rng.integers(1, 90)),
                                          int(rng.integers(1, 40))], density, zero_cols=0.1)
        params = EIEParams(n_pes=n_pes, entries_per_word=epw, spmat_depth=1 << 14,
                           ptr_depth=1 << 12, bias_depth=1 << 12, act_depth=128)
        im = pack(m, params)
        for orig, dec in zip(m.layers, im.decode()):
            np.testing.assert_array_equal(dec.index, orig.index)
            assert dec.relu == orig.relu
        # the words hold the entries in order, ENTRIES_PER_WORD to a word, entry k in bits [8k+7:8k]
        for pe in range(n_pes):
            words = im.spmat_words(pe)
            flat = [(int(w) >> (8 * k)) & 0xFF for w in words for k in range(epw)]
            assert flat[:len(im.spmat[pe])] == list(im.spmat[pe])


def test_structure_matches_scipy_sparse():
    """Per PE and column, the non-zeros the pointers delimit are the CSC
    structure scipy.sparse computes for that PE's rows."""
    rng = np.random.default_rng(5)
    m = random_compressed_model(rng, [50, 37], 0.2)
    n = 4
    im = pack(m, EIEParams(n_pes=n))
    idx = m.layers[0].index
    for pe in range(n):
        csc = sp.csc_matrix(idx[pe::n, :])
        ent = im.spmat[pe]
        ptr = im.ptr[pe]
        for j in range(idx.shape[1]):
            e = ent[ptr[j]:ptr[j + 1]]
            real = e[(e & 0xF) != 0]
            assert list(real & 0xF) == list(csc.data[csc.indptr[j]:csc.indptr[j + 1]])
            rows = np.cumsum((e >> 4).astype(int) + 1) - 1
            assert list(rows[(e & 0xF) != 0]) == list(csc.indices[csc.indptr[j]:csc.indptr[j + 1]])


def test_bias_and_codebook_fixed_point():
    idx = np.ones((3, 2), dtype=np.uint8)
    cb = np.array([0.0, 0.5])
    m = CompressedModel([CompressedLayer("l", cb, idx, np.array([1.0, -0.25, 200.0]), True)])
    im = pack(m, EIEParams(n_pes=1, frac=8))
    d = im.decode()[0]
    assert list(d.codebook[:2]) == [0, 128]
    assert list(d.bias) == [256, -64, 32767]     # saturated to int16


def test_capacity_errors_name_layer_memory_and_overflow():
    rng = np.random.default_rng(0)
    m = random_compressed_model(rng, [64, 64, 10], 0.5)
    with pytest.raises(CapacityError, match=r"layer 'fc1': PE 0 spmat memory needs \d+ words, depth is 16 \(over by \d+"):
        pack(m, EIEParams(n_pes=2, spmat_depth=16))
    with pytest.raises(CapacityError, match=r"layer 'fc1'.*act_depth = 8 \(over by 24"):
        pack(m, EIEParams(n_pes=2, act_depth=8))
    with pytest.raises(CapacityError, match=r"2 layers.*max_layers = 1 \(over by 1\)"):
        pack(m, EIEParams(n_pes=2, max_layers=1))
    with pytest.raises(CapacityError, match=r"ptr_even memory needs \d+ words, depth is 4"):
        pack(m, EIEParams(n_pes=2, ptr_depth=4))
    with pytest.raises(CapacityError, match=r"bias memory needs 37 words, depth is 8"):
        pack(m, EIEParams(n_pes=2, bias_depth=8))


def test_codebook_too_large_and_float_model_refused():
    big = np.concatenate([[0.0], np.linspace(-1, 1, 31)])
    m = CompressedModel([CompressedLayer("wide", big, np.ones((2, 2), dtype=np.uint8))])
    with pytest.raises(CapacityError, match="layer 'wide': codebook has 32 entries"):
        pack(m, EIEParams())
    from eiegen.sw.model import FloatModel, FloatLayer
    with pytest.raises(ModelError, match="compressed model"):
        pack(FloatModel([FloatLayer("f", np.ones((2, 2)))]), EIEParams())
