"""ONNX import (sw/model.py, load_onnx_model): graphs built with onnx.helper,
and a trained scikit-learn MLP converted with skl2onnx. Read with the onnx
package alone (no onnxruntime)."""

import re
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from eiegen.sw.errors import ModelError
from eiegen.sw.model import FloatModel, load_model

F = TensorProto.FLOAT


def _save(path, nodes, inits, in_shape, out_name="y", extra_inputs=()):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, list(in_shape)), *extra_inputs],
        [helper.make_tensor_value_info(out_name, F, ["N", "K"])],
        initializer=[numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def test_gemm_matmul_add_relu_flatten_softmax(tmp_path):
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(6, 16)), rng.normal(size=6)         # Gemm, transB = 1 (PyTorch)
    w2, b2 = rng.normal(size=(6, 5)), rng.normal(size=(1, 5))      # MatMul (in x out) + Add
    w3, c3 = rng.normal(size=(5, 3)), rng.normal(size=3)           # Gemm, transB = 0, alpha, beta
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat", axis=1),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["h1"], name="fc_a", transB=1),
             helper.make_node("Relu", ["h1"], ["r1"]),
             helper.make_node("MatMul", ["r1", "w2"], ["m2"]),
             helper.make_node("Add", ["b2", "m2"], ["h2"]),           # bias on the left also works
             helper.make_node("Relu", ["h2"], ["r2"]),
             helper.make_node("Identity", ["r2"], ["i2"]),
             helper.make_node("Gemm", ["i2", "w3", "c3"], ["h3"], alpha=0.5, beta=2.0),
             helper.make_node("Softmax", ["h3"], ["y"], axis=-1)]
    p = _save(tmp_path / "m.onnx", nodes, dict(w1=w1, b1=b1, w2=w2, b2=b2, w3=w3, c3=c3), ["N", 1, 4, 4])
    m = load_model(p)
    assert isinstance(m, FloatModel)
    assert [l.name for l in m.layers] == ["fc1", "fc2", "fc3"]
    assert [l.shape for l in m.layers] == [(6, 16), (5, 6), (3, 5)]
    assert [l.relu for l in m.layers] == [True, True, False]
    np.testing.assert_array_equal(m.layers[0].weight, _f32(w1))
    np.testing.assert_array_equal(m.layers[0].bias, _f32(b1))
    np.testing.assert_array_equal(m.layers[1].weight, _f32(w2).T)
    np.testing.assert_array_equal(m.layers[1].bias, _f32(b2).ravel())
    np.testing.assert_allclose(m.layers[2].weight, 0.5 * _f32(w3).T)
    np.testing.assert_allclose(m.layers[2].bias, 2.0 * _f32(c3))
    # the same logits as the graph computes (numpy by hand, float32 weights)
    x = rng.normal(size=(7, 1, 4, 4))
    h = np.maximum(x.reshape(7, 16) @ _f32(w1).T + _f32(b1), 0)
    h = np.maximum(h @ _f32(w2) + _f32(b2), 0)
    z = 0.5 * h @ _f32(w3) + 2.0 * _f32(c3)
    np.testing.assert_allclose(m.forward(x.reshape(7, 16)), z, rtol=1e-12, atol=1e-12)


def test_reshape_by_constant_node_and_matmul_without_bias(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(12, 4))
    shape = helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([-1, 12], np.int64)))
    nodes = [shape, helper.make_node("Cast", ["x"], ["xc"], to=F),
             helper.make_node("Reshape", ["xc", "s"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])]
    m = load_model(_save(tmp_path / "m.onnx", nodes, dict(w=w), ["N", 3, 4]))
    assert len(m.layers) == 1 and m.layers[0].bias is None and not m.layers[0].relu
    np.testing.assert_array_equal(m.layers[0].weight, _f32(w).T)


def test_dynamo_style_transposed_weight(tmp_path):
    """PyTorch's dynamo exporter writes nn.Linear as Transpose(weight), MatMul, Add."""
    rng = np.random.default_rng(5)
    w1, b1, w2, b2 = rng.normal(size=(6, 4)), rng.normal(size=6), rng.normal(size=(3, 6)), rng.normal(size=3)
    nodes = [helper.make_node("Transpose", ["fc1.weight"], ["t1"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "t1"], ["m1"]), helper.make_node("Add", ["m1", "fc1.bias"], ["a1"]),
             helper.make_node("Relu", ["a1"], ["r1"]),
             helper.make_node("Transpose", ["fc2.weight"], ["t2"], perm=[1, 0]),
             helper.make_node("MatMul", ["r1", "t2"], ["m2"]), helper.make_node("Add", ["m2", "fc2.bias"], ["y"])]
    m = load_model(_save(tmp_path / "m.onnx", nodes, {"fc1.weight": w1, "fc1.bias": b1, "fc2.weight": w2,
                                                     "fc2.bias": b2}, ["N", 4]))
    np.testing.assert_array_equal(m.layers[0].weight, _f32(w1))
    np.testing.assert_array_equal(m.layers[1].weight, _f32(w2))
    np.testing.assert_array_equal(m.layers[1].bias, _f32(b2))
    assert [l.relu for l in m.layers] == [True, False]


def _conv(tmp_path):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "k"], ["c"], name="conv1"),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    return _save(tmp_path / "m.onnx", nodes, dict(k=rng.normal(size=(2, 1, 3, 3)), w=rng.normal(size=(3, 8))),
                 [1, 1, 4, 4])


def _lstm(tmp_path):
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], name="fc", transB=1),
             helper.make_node("Unsqueeze", ["h", "ax"], ["h3"], name="unsq"),
             helper.make_node("LSTM", ["h3", "W", "R"], ["y"], name="lstm", hidden_size=2)]
    inits = dict(w=rng.normal(size=(4, 5)), W=rng.normal(size=(1, 8, 4)), R=rng.normal(size=(1, 8, 2)))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [3, 5])],
                              [helper.make_tensor_value_info("y", F, ["N", "K"])],
                              initializer=[numpy_helper.from_array(np.asarray(v, np.float32), k)
                                           for k, v in inits.items()]
                              + [numpy_helper.from_array(np.array([0], np.int64), "ax")])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    return tmp_path / "m.onnx"


def _lstm_first(tmp_path):
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="rnn", hidden_size=2)]
    return _save(tmp_path / "m.onnx", nodes, dict(W=rng.normal(size=(1, 8, 5)), R=rng.normal(size=(1, 8, 2))),
                 [1, 3, 5])


def _branch(tmp_path):
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2"], ["g"], transB=1),
             helper.make_node("Add", ["g", "r"], ["y"], name="residual")]
    return _save(tmp_path / "m.onnx", nodes, dict(w1=rng.normal(size=(4, 4)), w2=rng.normal(size=(4, 4))), [1, 4])


def _sigmoid(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1),
             helper.make_node("Sigmoid", ["h"], ["y"], name="act")]
    return _save(tmp_path / "m.onnx", nodes, dict(w=np.ones((2, 3))), [1, 3])


def _dynamic_weight(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    return _save(tmp_path / "m.onnx", nodes, {}, [1, 3],
                 extra_inputs=[helper.make_tensor_value_info("w", F, [3, 2])])


def _nan(tmp_path):
    w = np.ones((2, 3))
    w[1, 2] = np.nan
    return _save(tmp_path / "m.onnx", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], dict(w=w), [1, 3])


BAD = [
    ("conv", _conv, r"m.onnx: node 'conv1' \(Conv\) is not supported; eiegen reads a chain of Gemm"),
    ("lstm", _lstm, r"m.onnx: node 'unsq' \(Unsqueeze\) is not supported"),
    ("lstm-first", _lstm_first, r"m.onnx: node 'rnn' \(LSTM\) is not supported"),
    ("branch", _branch, r"node 'residual' \(Add\) is not supported: the graph branches at tensor 'r'"),
    ("sigmoid", _sigmoid, r"node 'act' \(Sigmoid\) is not supported"),
    ("dynamic", _dynamic_weight, r"the graph has 2 non-constant inputs \(x, w\)"),
    ("nan", _nan, r"m.onnx: layer 'fc1': weight has 1 non-finite value\(s\); first is NaN at index \(1, 2\)"),
    ("not-onnx", lambda t: (t / "m.onnx").write_bytes(b"this is not onnx at all") and t / "m.onnx",
     r"m.onnx: not a readable ONNX model \(DecodeError"),
    ("empty", lambda t: (t / "m.onnx").write_bytes(b"") or t / "m.onnx", r"m.onnx: not an ONNX model \(no graph nodes"),
    ("npz-named-onnx", lambda t: np.savez(t / "m.npz", a=np.ones(3)) or (t / "m.npz").rename(t / "m.onnx"),
     r"m.onnx: not (a readable ONNX model|an ONNX model)"),
]


@pytest.mark.parametrize("name, make, message", BAD, ids=[b[0] for b in BAD])
def test_refused(tmp_path, name, make, message):
    path = make(tmp_path)
    with pytest.raises(ModelError, match=message):
        load_model(path)


@pytest.fixture(scope="module")
def sklearn_mlp():
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    d = load_digits()
    x, y = d.data / 16.0, d.target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((32, 16), max_iter=60, random_state=0).fit(x[:1400], y[:1400])
    return clf, x[1400:], y[1400:]


@pytest.mark.parametrize("zipmap", [True, False])
def test_sklearn_mlp_through_skl2onnx(tmp_path, sklearn_mlp, zipmap):
    from skl2onnx import to_onnx
    clf, x, y = sklearn_mlp
    onx = to_onnx(clf, x[:1].astype(np.float32), options=None if zipmap else {id(clf): {"zipmap": False}})
    path = tmp_path / "mlp.onnx"
    path.write_bytes(onx.SerializeToString())
    m = load_model(path)
    assert [l.shape for l in m.layers] == [(32, 64), (16, 32), (10, 16)]
    assert [l.relu for l in m.layers] == [True, True, False]
    for layer, w, b in zip(m.layers, clf.coefs_, clf.intercepts_):
        # skl2onnx stores the weights as float32: equal to the source rounded to float32
        np.testing.assert_array_equal(layer.weight, w.T.astype(np.float32).astype(np.float64))
        np.testing.assert_array_equal(layer.bias, b.astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(layer.weight, w.T, rtol=1e-6, atol=1e-7)
    pred = np.argmax(m.forward(x), axis=1)
    np.testing.assert_array_equal(pred, clf.predict(x))
    assert np.mean(pred == y) == clf.score(x, y)


def test_sklearn_labels_other_than_indices_refused(tmp_path, sklearn_mlp):
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    clf0, x, y = sklearn_mlp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(x, y + 1)     # labels 1..10
    path = tmp_path / "mlp.onnx"
    path.write_bytes(to_onnx(clf, x[:1].astype(np.float32)).SerializeToString())
    with pytest.raises(ModelError, match=re.escape("labels its 10 classes [1, 2, 3, 4, 5, 6, 7, 8, ...]")):
        load_model(path)
