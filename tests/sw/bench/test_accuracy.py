"""The Fig. 4.9 sweeps and the LeNet-300-100 run (sw/bench/accuracy.py; the sparsity sweep is tested
in tests/sw/test_train.py, the size formulas are sw/compress/report.py's)."""

import numpy as np
import pytest

from eiegen.sw import train as T
from eiegen.sw.bench import accuracy as A
from eiegen.sw.compress import dense_weight_bits, pruned_model_bits, quantized_model_bits
from eiegen.sw.compress.report import _csc_entries
from eiegen.sw.model import CompressedLayer, CompressedModel, FloatLayer, FloatModel


def test_sizes_by_hand():
    # column 0 of 40 rows, non-zeros at rows 2 and 39: (z=2), then 36 zeros = 2 padding
    # entries of 16 and the entry with z=4; column 1: one entry. 5 entries in all
    w = np.zeros((40, 2))
    w[2, 0], w[39, 0] = 0.5, -0.25
    w[0, 1] = 1.0
    fm = FloatModel([FloatLayer("a", w, None, False)])
    assert _csc_entries(w) == 5
    assert pruned_model_bits(fm) == 5 * 36
    assert dense_weight_bits(fm) == 32 * 80
    idx = (w != 0).astype(np.uint8) * np.array([[1, 2]], dtype=np.uint8)
    cm = CompressedModel([CompressedLayer("a", np.array([0.0, 0.5, 1.0]), idx, None, False)])
    # 3 codebook entries -> 2-bit index; pruned: 5 entries x (2 + 4) + 2 centroids x 32
    assert quantized_model_bits(cm, pruned=True) == 5 * 6 + 64
    # not pruned: 80 weights x 2 bits + 64
    assert quantized_model_bits(cm, pruned=False) == 160 + 64


@pytest.fixture(scope="module")
def setup():
    data = T.load_digits_dataset()
    fm = T.train(T.init_mlp([64, 24, 10], seed=1), data, epochs=10, lr=3e-3)
    return data, fm


def test_quant_sweep(setup):
    data, fm = setup
    q = A.quant_sweep(fm, data, (1, 4), finetune_epochs=1)
    assert q["size"][0] < q["size"][1]
    assert q["accuracy"][1] > q["accuracy"][0]
    assert q["accuracy"][1] > 0.85


def test_digits_28x28():
    d = A.digits_28x28()
    small = T.load_digits_dataset()
    assert d.x_train.shape == (len(small.y_train), 784) and d.x_test.shape == (len(small.y_test), 784)
    np.testing.assert_array_equal(d.y_test, small.y_test)
    assert 0.0 <= d.x_test.min() and d.x_test.max() <= 1.0
    # bilinear upsampling keeps the picture: the corners of the 8 x 8 image are the corners of the 28 x 28 one
    img8, img28 = small.x_test[0].reshape(8, 8), d.x_test[0].reshape(28, 28)
    for (i, j), (k, m) in (((0, 0), (0, 0)), ((7, 7), (27, 27)), ((0, 7), (0, 27))):
        assert img28[k, m] == pytest.approx(img8[i, j])


def test_lenet_through_compress(tmp_path):
    lines = []
    r = A.lenet(tmp_path, quick=True, progress=lines.append)
    assert "about" in lines[0] and "eiegen compress" in lines[-1]            # estimate, then the command
    assert r["network"] == "784-300-100-10"
    # the paper's sparsities: 8 %, 9 %, 26 % of the weights kept
    assert r["kept"] == pytest.approx({"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}, abs=0.001)
    # the figures are the compressed file's, the data set's test split
    from eiegen.sw.model import load_model
    from eiegen.sw.compress import compression_report
    c = load_model(tmp_path / "lenet300_compressed.npz")
    rep = compression_report(c, load_model(tmp_path / "lenet300_float.npz"), 1).total
    assert r["ratio_huffman"] == pytest.approx(rep["ratio_huffman"]) and r["ratio"] == pytest.approx(rep["ratio"])
    assert 30 < r["ratio_huffman"] < 50
    data = A.digits_28x28()
    assert r["accuracy"]["int16"] == T.golden_accuracy(c, data.x_test, data.y_test)
    assert r["accuracy"]["int16"] > 0.85
    text = A.lenet_table(r)
    assert "40x" in text and "98.36%" in text and "98.42%" in text and f"{r['ratio_huffman']:.1f}x" in text
