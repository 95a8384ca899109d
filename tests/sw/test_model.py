import numpy as np
import pytest

from eiegen.sw.model import (FloatLayer, FloatModel, CompressedLayer, CompressedModel, load_model,
                             save_float_model, save_compressed_model)
from eiegen.sw.errors import ModelError


def _float_model(rng):
    return FloatModel([FloatLayer("fc1", rng.normal(size=(8, 5)), rng.normal(size=8), True),
                       FloatLayer("fc2", rng.normal(size=(3, 8)), None, False)])


def test_float_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    m = _float_model(rng)
    save_float_model(m, tmp_path / "m.npz")
    m2 = load_model(tmp_path / "m.npz")
    assert isinstance(m2, FloatModel)
    assert [l.name for l in m2.layers] == ["fc1", "fc2"]
    assert [l.relu for l in m2.layers] == [True, False]
    np.testing.assert_array_equal(m2.layers[0].weight, m.layers[0].weight)
    assert m2.layers[1].bias is None
    x = rng.normal(size=5)
    np.testing.assert_allclose(m2.forward(x), m.forward(x))


def test_default_relu_all_but_last(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "m.npz", **{"a.weight": rng.normal(size=(4, 3)), "b.weight": rng.normal(size=(2, 4))})
    m = load_model(tmp_path / "m.npz")
    assert [l.relu for l in m.layers] == [True, False]


def test_compressed_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    cb = np.concatenate([[0.0], np.linspace(-1, 1, 15)])
    m = CompressedModel([CompressedLayer("fc", cb, rng.integers(0, 16, size=(6, 7)), rng.normal(size=6), False)])
    save_compressed_model(m, tmp_path / "c.npz")
    m2 = load_model(tmp_path / "c.npz")
    assert isinstance(m2, CompressedModel)
    np.testing.assert_array_equal(m2.layers[0].index, m.layers[0].index)
    np.testing.assert_array_equal(m2.layers[0].codebook, cb)


@pytest.mark.parametrize("bad, message", [
    (np.array([[1.0, np.nan]]), "NaN at index (0, 1)"),
    (np.array([[1.0, np.inf]]), "Inf at index (0, 1)"),
    (np.ones((2, 2, 2)), "must be 2-D"),
    (np.ones(3), "must be 2-D"),
])
def test_bad_weights(bad, message):
    with pytest.raises(ModelError, match=r"layer 'x'.*" + __import__("re").escape(message)):
        FloatLayer("x", bad)


def test_chain_mismatch():
    with pytest.raises(ModelError, match="'a' has 4 outputs but 'b' takes 5 inputs"):
        FloatModel([FloatLayer("a", np.ones((4, 3))), FloatLayer("b", np.ones((2, 5)))])


def test_unknown_format_and_corrupt(tmp_path):
    (tmp_path / "m.txt").write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model format '.txt'"):
        load_model(tmp_path / "m.txt")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ModelError, match="bad.npz"):
        load_model(tmp_path / "bad.npz")
    with pytest.raises(ModelError, match="no such file"):
        load_model(tmp_path / "missing.npz")


def test_codebook_zero_reserved():
    with pytest.raises(ModelError, match="entry 0 is reserved"):
        CompressedLayer("c", np.array([0.5, 1.0]), np.zeros((2, 2), dtype=int))
