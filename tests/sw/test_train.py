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


def test_dataset_file_x_y_split_and_checks(tmp_path):
    rng = np.random.default_rng(1)
    p = tmp_path / "d.npz"
    x, y = rng.normal(size=(50, 2, 3)), np.repeat(np.arange(5), 10)
    np.savez(p, x=x, y=y.astype(np.float64))              # whole floats are labels too
    d = T.load_dataset_npz(p, require_train=True)
    assert d.x_train.shape == (40, 6) and d.x_test.shape == (10, 6)       # flattened, 80/20
    np.testing.assert_array_equal(np.bincount(d.y_test), [2] * 5)          # class by class
    again = T.load_dataset_npz(p)
    np.testing.assert_array_equal(again.x_test, d.x_test)                  # the same split every run
    tr, te = T.stratified_split(y, 0.2, 0)
    np.testing.assert_array_equal(d.x_test, x.reshape(50, 6)[te])
    assert sorted(np.concatenate([tr, te])) == list(range(50))
    cases = [
        (dict(x=x), "has 'x' but no 'y'"),
        (dict(x=x, y=y, x_test=x), "both x, y and x_test"),
        (dict(x_train=x, y_train=y, y_test=y), "no 'x_test' array"),
        (dict(x_test=x, y_test=y), "no 'x_train' array"),              # require_train
        (dict(x=np.where(np.arange(300).reshape(50, 6) == 13, np.nan, 1.0), y=y),
         "x has 1 non-finite value(s); first is nan at sample 2, feature 1"),
        (dict(x=x, y=y - 1), "y has the negative label -1 at sample 0"),
        (dict(x=x, y=y + 0.5), "y must be 50 integer labels"),
        (dict(x=np.array(["a"] * 50), y=y), "x must be a numeric array of samples x features"),
    ]
    for arrays, message in cases:
        np.savez(p, **arrays)
        with pytest.raises(EiegenError, match=__import__("re").escape(message)):
            T.load_dataset_npz(p, require_train=True)


def test_data_must_fit_the_model():
    rng = np.random.default_rng(2)
    m = T.init_mlp([6, 4, 3])
    ok = T.Dataset("d.npz", rng.normal(size=(8, 6)), np.arange(8) % 3, rng.normal(size=(4, 6)), np.arange(4) % 3)
    T.check_data_for_model(ok, m)
    wide = T.Dataset("d.npz", None, None, rng.normal(size=(4, 7)), np.zeros(4, int))
    with pytest.raises(EiegenError, match="the samples have 7 features; the model's first layer 'fc1' takes 6"):
        T.check_data_for_model(wide, m)
    labels = T.Dataset("d.npz", ok.x_train, np.array([0, 1, 2, 0, 1, 7, 0, 1]), ok.x_test, ok.y_test)
    with pytest.raises(EiegenError, match=r"y_train has the label 7 at sample 5; the model's last layer "
                                          r"'fc2' has 3 outputs \(classes 0..2\)"):
        T.check_data_for_model(labels, m)


def test_golden_accuracy_is_the_packed_image_through_the_golden_model(digits, trained):
    from eiegen.hw.eie.params import EIEParams
    from eiegen.sim.eie_golden import image_forward
    from eiegen.sw.compress import compress_model
    from eiegen.sw.fixedpoint import to_fixed
    from eiegen.sw.packer import pack
    cm = compress_model(trained, 0.7, 4)
    x, y = digits.x_test, digits.y_test
    image = pack(cm, EIEParams(n_pes=3, spmat_depth=4096, ptr_depth=512))
    ref = np.argmax(image_forward(image.decode(), to_fixed(x, 8), frac=8, acc_width=32), axis=1)
    np.testing.assert_array_equal(T.golden_predict(cm, x), ref)
    assert T.golden_accuracy(cm, x, y) == np.mean(ref == y)
    # fixed point is not float: the predictions differ somewhere with 3 fractional bits
    assert (T.golden_predict(cm, x, frac=3, acc_width=24) != T.predict(cm, x)).any()


def test_sensitivity_scan(digits, trained):
    scan = T.sensitivity_scan(trained, digits, max_loss_pp=1.0)
    base = T.accuracy(trained, digits.x_train, digits.y_train)
    assert scan["float"] == base and scan["split"] == "train"
    assert set(scan["chosen"]) == {"fc1", "fc2"}
    for name, accs in scan["accuracy"].items():
        assert len(accs) == len(T.SENSITIVITY_SPARSITIES)
        chosen = scan["chosen"][name]
        k = T.SENSITIVITY_SPARSITIES.index(chosen)
        # every candidate up to the chosen one is within the budget, the next is not
        assert all(100 * (base - a) <= 1.0 + 1e-9 for a in accs[:k + 1])
        if k + 1 < len(accs):
            assert 100 * (base - accs[k + 1]) > 1.0
        # the figure is the accuracy with that layer alone pruned
        from eiegen.sw.compress import prune_magnitude
        i = [l.name for l in trained.layers].index(name)
        layers = list(trained.layers)
        l = layers[i]
        layers[i] = FloatLayer(l.name, prune_magnitude(l.weight, 0.9), l.bias, l.relu)
        j = T.SENSITIVITY_SPARSITIES.index(0.9)
        assert accs[j] == T.accuracy(FloatModel(layers), digits.x_train, digits.y_train)
    # a larger budget never chooses less; a budget of -1 pp (gain required) chooses nothing
    loose = T.sensitivity_scan(trained, digits, max_loss_pp=5.0)
    assert all(loose["chosen"][n] >= scan["chosen"][n] for n in scan["chosen"])
    none = T.sensitivity_scan(trained, digits, max_loss_pp=-1.0)
    assert set(none["chosen"].values()) == {0.0}


def test_deep_compress_records_sparsity_and_balances_groups(digits, trained):
    from eiegen.sw.compress import pe_nonzeros
    cm, pruned = T.deep_compress(trained, digits, {"fc1": 0.75, "fc2": 0.5}, pes=4, balance=True, group=4,
                                 prune_steps=1, retrain_epochs=1, finetune_epochs=1)
    assert [l.sparsity for l in cm.layers] == [0.75, 0.5]
    nz = pe_nonzeros(cm.layers[0].index, 4)
    grouped = np.add.reduceat(nz, np.arange(0, 64, 4), axis=1)
    assert (grouped == grouped[:1]).all()


def test_estimate_seconds(digits, trained):
    assert T.estimate_seconds(trained, digits, 0) == 0.0
    assert 0.0 < T.estimate_seconds(trained, digits, 10) < 60.0


def test_sparsity_sweep(digits, trained):
    sw = T.sparsity_sweep(trained, digits, (0.5, 0.98), retrain_epochs=2, finetune_epochs=1, prune_steps=1)
    assert sw["density"] == pytest.approx([0.5, 0.02], abs=0.002)
    # sizes follow the densities; 4-bit entries are smaller than 32-bit ones
    assert sw["size_pruned"][1] < sw["size_pruned"][0]
    assert all(b < p for b, p in zip(sw["size_both"], sw["size_pruned"]))
    # 2 % of the weights cannot hold the accuracy of 50 %
    assert sw["both"][0] > sw["both"][1] + 0.05 and sw["pruned"][0] > 0.85
