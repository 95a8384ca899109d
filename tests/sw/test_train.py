"""Training, backprop, masked retraining and centroid fine-tuning (sw/train.py)."""

import numpy as np
import pytest

from eiegen.sw import train as T
from eiegen.sw.compress import finetune_centroids, quantize_layer
from eiegen.sw.errors import EiegenError
from eiegen.sw.model import CompressedModel, FloatLayer, FloatModel


def _tiny(seed=0, relu_last=False):
    rng = np.random.default_rng(seed)
    sizes = [5, 7, 6, 4]
    ws = [rng.normal(0, 0.8, (sizes[i + 1], sizes[i])) for i in range(3)]
    bs = [rng.normal(0, 0.3, sizes[i + 1]) for i in range(3)]
    rs = [True, True, relu_last]
    x = rng.normal(0, 1, (9, 5))
    y = rng.integers(0, 4, 9)
    return ws, bs, rs, x, y


@pytest.mark.parametrize("relu_last", [False, True])
def test_gradients_match_finite_differences(relu_last):
    ws, bs, rs, x, y = _tiny(1, relu_last)
    _, dws, dbs = T.loss_and_grads(ws, bs, rs, x, y)
    eps = 1e-6

    def loss():
        return T.loss_and_grads(ws, bs, rs, x, y)[0]

    checked = 0
    for params, grads in ((ws, dws), (bs, dbs)):
        for p, g in zip(params, grads):
            assert g.shape == p.shape
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = loss()
                p[idx] = old - eps
                down = loss()
                p[idx] = old
                num = (up - down) / (2 * eps)
                assert abs(num - g[idx]) <= 1e-6 + 1e-4 * abs(num), (idx, num, g[idx])
                checked += 1
    assert checked == sum(p.size for p in ws + bs)


def test_forward_matches_model_forward():
    ws, bs, rs, x, _ = _tiny(2)
    model = FloatModel([FloatLayer(f"l{i}", w, b, r) for i, (w, b, r) in enumerate(zip(ws, bs, rs))])
    logits, _ = T.forward(ws, bs, rs, x)
    np.testing.assert_allclose(logits, model.forward(x), rtol=1e-12, atol=1e-12)


def test_adam_minimises_a_quadratic():
    target = np.array([3.0, -2.0, 0.5])
    p = np.zeros(3)
    opt = T.Adam([p.shape], lr=0.05)
    for _ in range(2000):
        opt.step([p], [2 * (p - target)])
    np.testing.assert_allclose(p, target, atol=1e-3)


@pytest.fixture(scope="module")
def digits():
    return T.load_digits_dataset()


@pytest.fixture(scope="module")
def trained(digits):
    return T.train(T.init_mlp([64, 32, 10], seed=0), digits, epochs=12, lr=3e-3, weight_decay=1e-3)


def test_digits_split(digits):
    assert digits.x_train.shape[1] == 64 and digits.n_classes == 10
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert 0.0 <= digits.x_test.min() and digits.x_test.max() <= 1.0
    # stratified: every class in the test split, about 20 % of it
    counts = np.bincount(digits.y_test, minlength=10)
    assert counts.min() >= 30 and abs(len(digits.y_test) - 360) <= 5
    again = T.load_digits_dataset()
    np.testing.assert_array_equal(again.y_test, digits.y_test)


def test_training_learns_digits(digits, trained):
    untrained = T.init_mlp([64, 32, 10], seed=0)
    assert T.accuracy(untrained, digits.x_test, digits.y_test) < 0.5
    assert T.accuracy(trained, digits.x_test, digits.y_test) > 0.9


def test_masked_retraining_keeps_pruned_weights_zero(digits, trained):
    sp = {"fc1": 0.8, "fc2": 0.6}
    pruned, masks = T.prune_and_retrain(trained, digits, sp, steps=2, epochs=2)
    for l, m, s in zip(pruned.layers, masks, (0.8, 0.6)):
        np.testing.assert_array_equal(l.weight != 0, m)
        assert abs((1 - m.mean()) - s) < 0.01
    # retraining moved the surviving weights (it trained) but not the pruned ones
    again = T.train(pruned, digits, epochs=1, masks=masks)
    for l0, l1, m in zip(pruned.layers, again.layers, masks):
        assert (l1.weight[~m] == 0).all()
        assert not np.allclose(l0.weight[m], l1.weight[m])


def test_prune_schedule():
    s = T.prune_schedule(0.9, 3)
    assert len(s) == 3 and s[-1] == 0.9 and all(a < b for a, b in zip(s, s[1:]))
    np.testing.assert_allclose((1 - s[0]) ** 3, 0.1)
    assert T.prune_schedule(0.0, 3) == [0.0]


def test_centroid_gradient_is_the_sum_over_shared_weights(trained, digits):
    layer = quantize_layer(trained.layers[0], 3)
    rng = np.random.default_rng(0)
    g = rng.normal(size=layer.index.shape)
    new = finetune_centroids(layer, g, 0.1)
    for k in range(1, len(layer.codebook)):
        expect = layer.codebook[k] - 0.1 * g[layer.index == k].sum()
        assert new.codebook[k] == pytest.approx(expect)
    assert new.codebook[0] == 0.0


def test_finetuning_improves_a_coarse_quantization(digits, trained):
    pruned, _ = T.prune_and_retrain(trained, digits, {"fc1": 0.7, "fc2": 0.5}, steps=1, epochs=3)
    before = T.quantize_and_finetune(pruned, digits, bits=2, epochs=0)
    after = T.quantize_and_finetune(pruned, digits, bits=2, epochs=6, lr=1e-3)
    ws_b, bs_b, rs = T._params(before)
    ws_a, bs_a, _ = T._params(after)
    loss_b = T.loss_and_grads(ws_b, bs_b, rs, digits.x_train, digits.y_train)[0]
    loss_a = T.loss_and_grads(ws_a, bs_a, rs, digits.x_train, digits.y_train)[0]
    assert loss_a < 0.9 * loss_b
    for lb, la in zip(before.layers, after.layers):
        np.testing.assert_array_equal(lb.index, la.index)      # sharing pattern fixed
        assert la.codebook[0] == 0.0 and len(la.codebook) <= 4
        assert not np.array_equal(lb.codebook, la.codebook)


def test_deep_compress_keeps_accuracy(digits, trained):
    cm, pruned = T.deep_compress(trained, digits, 0.7, bits=4, prune_steps=2, retrain_epochs=4,
                                 finetune_epochs=3)
    assert isinstance(cm, CompressedModel)
    dens = sum(int((l.index != 0).sum()) for l in cm.layers) / sum(l.index.size for l in cm.layers)
    assert abs(dens - 0.3) < 0.01
    assert all(len(l.codebook) <= 16 for l in cm.layers)
    f = T.accuracy(trained, digits.x_test, digits.y_test)
    assert T.accuracy(cm, digits.x_test, digits.y_test) >= f - 0.03


def test_balanced_pruning_in_retraining(digits, trained):
    from eiegen.sw.compress import pe_nonzeros
    pruned, _ = T.prune_and_retrain(trained, digits, {"fc1": 0.75, "fc2": 0.5}, steps=1, epochs=1,
                                    pes=4, balance=True)
    c = pe_nonzeros(pruned.layers[0].weight, 4)
    assert (c.max(axis=0) == c.min(axis=0)).all()


def test_dataset_file(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "d.npz"
    np.savez(p, x_test=rng.normal(size=(5, 3)), y_test=np.array([0, 1, 2, 1, 0]))
    d = T.load_dataset_npz(p)
    assert d.x_train is None and d.n_inputs == 3 and d.n_classes == 3
    np.savez(p, x_test=rng.normal(size=(5, 3)))
    with pytest.raises(EiegenError, match="y_test"):
        T.load_dataset_npz(p)
    np.savez(p, x_test=rng.normal(size=(5, 3)), y_test=np.arange(4))
    with pytest.raises(EiegenError, match="y_test must be 5 integer labels"):
        T.load_dataset_npz(p)
    np.savez(p, x_test=rng.normal(size=(2, 3)), y_test=np.arange(2), x_train=np.zeros((2, 3)))
    with pytest.raises(EiegenError, match="both x_train and y_train"):
        T.load_dataset_npz(p)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(EiegenError, match="not a readable"):
        T.load_dataset_npz(tmp_path / "bad.npz")
    with pytest.raises(EiegenError, match="needs training data"):
        T.train(T.init_mlp([3, 3]), d, epochs=1)
