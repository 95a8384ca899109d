import json
import re
import subprocess
import sys

import numpy as np
import pytest

from eiegen.sw.model import CompressedModel, load_model
from eiegen.sw.compress import pe_nonzeros


def test_help_lists_the_options():
    r = subprocess.run([sys.executable, "-m", "eiegen.sw.cli", "compress", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for opt in ("--sparsity", "--bits", "--pes", "--balance", "--group", "--report-json", "-o"):
        assert opt in r.stdout


def test_compress_writes_model_and_report(cli, float_model, tmp_path, leftovers):
    out, rj = tmp_path / "c.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", float_model, "-o", out, "--sparsity", "fc1=0.9,fc2=0.8,fc3=0.5",
                             "--bits", "3", "--pes", "4", "--balance", "--report-json", rj)
    assert rc == 0, stderr
    c = load_model(out)
    assert isinstance(c, CompressedModel) and [l.name for l in c.layers] == ["fc1", "fc2", "fc3"]
    for l, s in zip(c.layers, (0.9, 0.8, 0.5)):
        assert len(l.codebook) == 8 and l.codebook[0] == 0.0
        nz = pe_nonzeros(l.index, 4)
        assert (nz == nz[:1]).all()
        assert abs((l.index != 0).sum() - (1 - s) * l.index.size) <= 2
    r = json.loads(rj.read_text())
    assert r["pes"] == 4 and [l["name"] for l in r["layers"]] == ["fc1", "fc2", "fc3"]
    assert r["total"]["nonzeros"] == sum(int((l.index != 0).sum()) for l in c.layers)
    assert "compression report for N = 4 PEs" in stdout and "total" in stdout
    assert f"wrote {out}" in stdout
    assert "fc1: 48 x 30, sparsity 0.9 (balanced for 4 PEs)" in stderr     # progress
    assert leftovers(tmp_path, "model.npz", "c.npz", "r.json") == []


def test_compress_single_and_listed_sparsity(cli, float_model, tmp_path):
    for spec, dens in (("0.75", (0.25, 0.25, 0.25)), ("0.5,0.6,0.7", (0.5, 0.4, 0.3))):
        out = tmp_path / "c.npz"
        rc, _, err = cli("compress", float_model, "-o", out, "--sparsity", spec, "-q")
        assert rc == 0, err
        for l, d in zip(load_model(out).layers, dens):
            assert (l.index != 0).sum() == round(d * l.index.size)


def test_compress_balanced_column_groups(cli, float_model, tmp_path):
    out = tmp_path / "c.npz"
    rc, _, err = cli("compress", float_model, "-o", out, "--pes", "4", "--balance", "--group", "4", "-q")
    assert rc == 0, err
    for l in load_model(out).layers:
        nz = pe_nonzeros(l.index, 4)
        grouped = np.add.reduceat(nz, np.arange(0, l.shape[1], 4), axis=1)
        assert (grouped == grouped[:1]).all()
        assert not (nz == nz[:1]).all()          # within a group the PEs may differ


def _bad(tmp_path, name, **override):
    return _write(tmp_path / name, **override)


def _write(path, shapes=((48, 30), (20, 48), (10, 20)), **override):
    rng = np.random.default_rng(0)
    arrays = {}
    for i, (o, n) in enumerate(shapes):
        arrays[f"fc{i + 1}.weight"] = rng.standard_normal((o, n)) * 0.3
        arrays[f"fc{i + 1}.bias"] = rng.standard_normal(o) * 0.1
    arrays.update(override)
    np.savez(path, **arrays)
    return path


def _nan():
    w = np.ones((48, 30))
    w[2, 3] = np.nan
    return w


CASES = [
    ("nan", lambda t: _bad(t, "m.npz", **{"fc1.weight": _nan()}),
     [], r"layer 'fc1': weight has 1 non-finite value\(s\); first is NaN at index \(2, 3\)"),
    ("inf", lambda t: _bad(t, "m.npz", **{"fc2.bias": np.full(20, np.inf)}),
     [], r"layer 'fc2': bias has 20 non-finite value\(s\); first is Inf at index \(0,\)"),
    ("3-D", lambda t: _bad(t, "m.npz", **{"fc2.weight": np.ones((20, 48, 2))}),
     [], r"layer 'fc2': weight must be 2-D, got shape \(20, 48, 2\)"),
    ("1-D", lambda t: _bad(t, "m.npz", **{"fc3.weight": np.ones(20)}),
     [], r"layer 'fc3': weight must be 2-D, got shape \(20,\)"),
    ("chain", lambda t: _bad(t, "m.npz", shapes=((48, 30), (20, 40))),
     [], r"layer chain mismatch: 'fc1' has 48 outputs but 'fc2' takes 40 inputs"),
    ("bias-len", lambda t: _bad(t, "m.npz", **{"fc1.bias": np.ones(7)}),
     [], r"layer 'fc1': bias has 7 entries but the weight has 48 outputs"),
    ("sparsity-1", lambda t: _bad(t, "m.npz"), ["--sparsity", "1.0"],
     r"layer 'fc1': sparsity 1.0 is outside \[0, 1\)"),
    ("sparsity-neg", lambda t: _bad(t, "m.npz"), ["--sparsity", "0.5,-0.1,0.5"],
     r"layer 'fc2': sparsity -0.1 is outside \[0, 1\)"),
    ("sparsity-named", lambda t: _bad(t, "m.npz"), ["--sparsity", "fc1=0.5,fc2=0.5,fc3=1.5"],
     r"layer 'fc3': sparsity 1.5 is outside \[0, 1\)"),
    ("sparsity-text", lambda t: _bad(t, "m.npz"), ["--sparsity", "lots"],
     r"--sparsity: value: 'lots' is not a number"),
    ("sparsity-count", lambda t: _bad(t, "m.npz"), ["--sparsity", "0.5,0.5"],
     r"sparsity has 2 value\(s\) for 3 layer\(s\)"),
    ("sparsity-layer", lambda t: _bad(t, "m.npz"), ["--sparsity", "fc1=0.5,fc7=0.5"],
     r"sparsity given for unknown layer\(s\) 'fc7'"),
    ("bits", lambda t: _bad(t, "m.npz"), ["--bits", "9"], r"--bits must be from 1 to 8, got 9"),
    ("pes", lambda t: _bad(t, "m.npz"), ["--pes", "0", "--balance"], r"--pes must be at least 1"),
    ("group", lambda t: _bad(t, "m.npz"), ["--group", "4"], r"--group applies to load-balance-aware "
     r"pruning; add --balance"),
    ("format", lambda t: (t / "m.txt").write_text("1 2 3") and t / "m.txt",
     [], r"m.txt: unknown model format '.txt'"),
    ("corrupt", lambda t: (t / "m.npz").write_bytes(b"PK\x03\x04garbage") and t / "m.npz",
     [], r"m.npz: not a readable .npz archive"),
    ("truncated", lambda t: _truncate(_bad(t, "m.npz")), [], r"m.npz: (not a readable|corrupted) .npz"),
    ("missing", lambda t: t / "nothing.npz", [], r"nothing.npz: no such file"),
    ("pytorch", lambda t: (t / "m.pt").write_bytes(b"\x80\x02garbage") and t / "m.pt", [],
     r"m.pt: (reading a PyTorch state_dict needs torch|not a readable PyTorch file)"),
    ("field", lambda t: _bad(t, "m.npz", **{"fc1.gamma": np.ones(3)}),
     [], r"array 'fc1.gamma': unknown field 'gamma'"),
]


def _truncate(p):
    data = p.read_bytes()
    p.write_bytes(data[:len(data) // 2])
    return p


@pytest.mark.parametrize("name, make, extra, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(cli, tmp_path, leftovers, name, make, extra, message):
    model = make(tmp_path)
    inputs = [p.name for p in tmp_path.iterdir()]
    out, rj = tmp_path / "out.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", model, "-o", out, "--report-json", rj, "-q", *extra)
    assert rc != 0
    assert stderr.startswith("eiegen compress: error: ")
    assert re.search(message, stderr), stderr
    assert len(stderr.strip().splitlines()) == 1                # one clear message
    assert not out.exists() and not rj.exists()
    assert leftovers(tmp_path, *inputs) == []                   # no temporary files either


def test_already_compressed_and_bad_output(cli, compressed, tmp_path):
    rc, _, err = cli("compress", compressed, "-o", tmp_path / "again.npz")
    assert rc != 0 and "the model is already compressed" in err
    assert not (tmp_path / "again.npz").exists()
    rc, _, err = cli("compress", tmp_path / "model.npz", "-o", tmp_path / "out.bin")
    assert rc != 0 and "out.bin': a compressed model is written as .npz" in err
    assert not (tmp_path / "out.bin").exists()


def test_failed_compress_keeps_previous_output(cli, float_model, tmp_path):
    out = tmp_path / "c.npz"
    rc, _, _ = cli("compress", float_model, "-o", out, "-q")
    assert rc == 0
    before = out.read_bytes()
    rc, _, _ = cli("compress", float_model, "-o", out, "--sparsity", "2", "-q")
    assert rc != 0 and out.read_bytes() == before


# -- with --data: retraining and accuracy ------------------------------------------------------

from eiegen.sw import train as T                                     # noqa: E402
from eiegen.sw.model import save_float_model                         # noqa: E402

SHORT = ["--prune-steps", "1", "--epochs", "2", "--finetune-epochs", "2", "-q"]


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    """A 64-24-10 digits MLP (float .npz) and the digits data set file."""
    d = tmp_path_factory.mktemp("digits")
    data = T.load_digits_dataset()
    model = T.train(T.init_mlp([64, 24, 10], seed=1), data, epochs=10, lr=3e-3)
    save_float_model(model, d / "mlp.npz")
    np.savez(d / "data.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
             y_test=data.y_test)
    return d / "mlp.npz", d / "data.npz", model, data


def test_compress_with_data_retrains_and_reports_accuracy(cli, digits_files, tmp_path, leftovers):
    mlp, data_file, model, data = digits_files
    out, rj = tmp_path / "c.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", mlp, "-o", out, "--data", data_file, "--sparsity", "0.7",
                             "--pes", "4", "--max-loss", "5", "--report-json", rj, "--prune-steps", "2",
                             "--epochs", "2", "--finetune-epochs", "2", "--lr", "0.002", "--seed", "3")
    assert rc == 0, stderr
    # progress per step: layer sparsities, epochs, accuracy
    assert "retraining: 2 pruning step(s) x 2 epochs + 2 centroid fine-tuning epochs on 1438 samples" in stderr
    assert re.search(r"prune step 2/2: sparsity fc1 0.7, fc2 0.7; density (29\.9\d|30\.0\d)%", stderr)
    assert "retrain 1/2: epoch 2/2" in stderr and "fine-tune centroids: epoch 2/2" in stderr
    c = load_model(out)
    assert [l.sparsity for l in c.layers] == [0.7, 0.7]
    r = json.loads(rj.read_text())
    a = r["accuracy"]
    x, y = data.x_test, data.y_test
    # every column is what it says, on the test split
    assert a["float"] == T.accuracy(model, x, y)
    assert a["quantized"] == T.accuracy(c, x, y)
    assert a["int16"] == T.golden_accuracy(c, x, y)
    assert 0.8 < a["pruned"] <= 1.0 and a["samples"] == len(y) == 359
    assert a["loss_pp"] == pytest.approx(100 * (a["float"] - a["int16"])) and a["ok"]
    assert r["retrained"] and r["sparsity"] == {"fc1": 0.7, "fc2": 0.7}
    assert a["retraining"] == {"prune_steps": 2, "epochs": 2, "finetune_epochs": 2, "lr": 0.002, "seed": 3}
    # the table: sparsity column, the accuracy columns
    assert re.search(r"fc1\s+24x64\s+0\.7\s+(29\.9\d|30\.0\d)%", stdout)
    head, _, row = stdout.split("accuracy  ", 1)[1].splitlines()[:3]
    for col in ("float", "pruned", "pruned+quantized", "int16 fixed point", "change vs float"):
        assert col in head
    assert f"{100 * a['float']:.2f}%" in row and f"{100 * a['int16']:.2f}%" in row and "limit -5 pp: ok" in row
    assert leftovers(tmp_path, "c.npz", "r.json") == []
    # retraining helped: the same sparsity without it is less accurate (float, quantized)
    rc, _, _ = cli("compress", mlp, "-o", tmp_path / "plain.npz", "--sparsity", "0.7", "-q")
    assert T.accuracy(load_model(tmp_path / "plain.npz"), x, y) < a["quantized"]


def test_max_loss_exceeded_writes_nothing(cli, digits_files, tmp_path, leftovers):
    mlp, data_file, _, _ = digits_files
    out, rj = tmp_path / "c.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", mlp, "-o", out, "--data", data_file, "--sparsity", "0.98",
                             "--max-loss", "0.5", "--report-json", rj, *SHORT)
    assert rc == 1
    assert "compression report" in stdout and "EXCEEDED" in stdout         # the table is printed
    assert re.search(r"the compressed model \(int16\) is \d+\.\d\d pp below float, more than --max-loss "
                     r"0.5; nothing written", stderr)
    assert leftovers(tmp_path) == []


def test_without_data_says_accuracy_is_unknown(cli, digits_files, tmp_path):
    mlp = digits_files[0]
    rc, stdout, _ = cli("compress", mlp, "-o", tmp_path / "c.npz", "-q")
    assert rc == 0
    lines = [l for l in stdout.splitlines() if "accuracy" in l]
    assert lines == ["accuracy unknown: no retraining was done (the weights were pruned and quantized as "
                     "trained); give --data DATA.npz to retrain and measure it"]


def test_sparsity_auto(cli, digits_files, tmp_path):
    mlp, data_file, model, data = digits_files
    out, rj = tmp_path / "c.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", mlp, "-o", out, "--data", data_file, "--sparsity", "auto",
                             "--scan-loss", "2", "--max-loss", "5", "--report-json", rj, *SHORT)
    assert rc == 0, stderr
    scan = json.loads(rj.read_text())["sensitivity"]
    expect = T.sensitivity_scan(model, data, max_loss_pp=2.0)
    assert scan["chosen"] == expect["chosen"] and scan["max_loss_pp"] == 2.0
    assert all(v > 0 for v in scan["chosen"].values())
    # printed, and saved in the compressed file
    assert "sensitivity scan:" in stdout and "within 2 pp" in stdout
    for name, s in scan["chosen"].items():
        assert re.search(rf"^{name}\s.*\*.*\s{s:g}$", stdout, re.M), stdout
    assert {l.name: l.sparsity for l in load_model(out).layers} == scan["chosen"]


def test_x_y_data_and_onnx_model(cli, digits_files, tmp_path):
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    import warnings
    _, _, _, data = digits_files
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((24,), max_iter=40, random_state=0).fit(x, y)
    (tmp_path / "m.onnx").write_bytes(to_onnx(clf, x[:1].astype(np.float32)).SerializeToString())
    rc, stdout, err = cli("compress", tmp_path / "m.onnx", "-o", tmp_path / "c.npz", "--data", tmp_path / "xy.npz",
                          "--sparsity", "0.5", "--max-loss", "10", *SHORT)
    assert rc == 0, err
    split = T.load_dataset_npz(tmp_path / "xy.npz")
    assert len(split.y_test) == 359 and "test split, 359 samples" in stdout
    row = stdout.split("change vs float")[1].splitlines()[2]
    assert f"{100 * np.mean(clf.predict(split.x_test) == split.y_test):.2f}%" in row.split()[4]
    # pack reads ONNX too (compressing it first)
    rc, out, err = cli("pack", tmp_path / "m.onnx", "-o", tmp_path / "img", "--pes", "2", "--fit")
    assert rc == 0 and "2 layer(s) for 2 PEs" in out, err


def _onnx_conv(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node("Conv", ["x", "k"], ["c"], name="conv1"), helper.make_node("Flatten", ["c"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 36])],
                          initializer=[numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "k")])
    onnx.save(helper.make_model(g), str(path))
    return path


def _onnx_lstm(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm1", hidden_size=2)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 2])],
                          initializer=[numpy_helper.from_array(np.ones((1, 8, 64), np.float32), "W"),
                                       numpy_helper.from_array(np.ones((1, 8, 2), np.float32), "R")])
    onnx.save(helper.make_model(g), str(path))
    return path


def _data(path, **arrays):
    np.savez(path, **arrays)
    return path


def _digits_arrays(data, **override):
    a = dict(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
    a.update(override)
    return {k: v for k, v in a.items() if v is not None}


def _nan_features(data):
    x = data.x_test.copy()
    x[5, 7] = np.nan
    return x


DATA_CASES = [
    ("missing-key", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d, y_train=None))],
     r"d.npz: data set has no 'y_train' array \(expected x_train, y_train, x_test, y_test \(or x, y"),
    ("test-only", lambda t, d: ["--data", _data(t / "d.npz", x_test=d.x_test, y_test=d.y_test)],
     r"d.npz: data set has no 'x_train' array"),
    ("features", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(
        d, x_train=d.x_train[:, :60], x_test=d.x_test[:, :60]))],
     r"d.npz: the samples have 60 features; the model's first layer 'fc1' takes 64 inputs"),
    ("labels", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d, y_test=d.y_test + 5))],
     r"d.npz: y_test has the label 10 at sample \d+; the model's last layer 'fc2' has 10 outputs "
     r"\(classes 0..9\)"),
    ("nan", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d, x_test=_nan_features(d)))],
     r"d.npz: x_test has 1 non-finite value\(s\); first is nan at sample 5, feature 7"),
    ("not-npz", lambda t, d: ["--data", (t / "d.npz").write_bytes(b"junk") and t / "d.npz"],
     r"d.npz: not a readable .npz data set"),
    ("no-file", lambda t, d: ["--data", t / "nothing.npz"], r"nothing.npz: no such data set file"),
    ("auto-without-data", lambda t, d: ["--sparsity", "auto"],
     r"--sparsity auto chooses each layer's sparsity by a sensitivity scan of the data; add --data"),
    ("epochs-without-data", lambda t, d: ["--epochs", "3"], r"--epochs applies to retraining .*; add --data"),
    ("max-loss-without-data", lambda t, d: ["--max-loss", "3"], r"--max-loss applies to retraining"),
    ("scan-loss-not-auto", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d)), "--scan-loss", "2"],
     r"--scan-loss is the budget of the sensitivity scan; use it with --sparsity auto"),
    ("lr", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d)), "--lr", "0"],
     r"--lr must be a positive number, got 0.0"),
    ("max-loss-neg", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d)), "--max-loss", "-1"],
     r"--max-loss must be a number of percentage points >= 0"),
    ("prune-steps", lambda t, d: ["--data", _data(t / "d.npz", **_digits_arrays(d)), "--prune-steps", "0"],
     r"--prune-steps must be at least 1"),
]


@pytest.mark.parametrize("name, make, message", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data(cli, digits_files, tmp_path, leftovers, name, make, message):
    mlp, _, _, data = digits_files
    extra = make(tmp_path, data)
    inputs = [p.name for p in tmp_path.iterdir()]
    out, rj = tmp_path / "out.npz", tmp_path / "r.json"
    rc, stdout, stderr = cli("compress", mlp, "-o", out, "--report-json", rj, "-q", *extra)
    assert rc == 2
    assert stderr.startswith("eiegen compress: error: ")
    assert re.search(message, stderr), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert stdout == ""
    assert leftovers(tmp_path, *inputs) == []


ONNX_CASES = [
    ("not-onnx", lambda t: (t / "m.onnx").write_bytes(b"\x08\x07garbage that is not a model") and t / "m.onnx",
     r"m.onnx: not (a readable ONNX model|an ONNX model)"),
    ("conv", lambda t: _onnx_conv(t / "m.onnx"), r"m.onnx: node 'conv1' \(Conv\) is not supported"),
    ("lstm", lambda t: _onnx_lstm(t / "m.onnx"), r"m.onnx: node 'lstm1' \(LSTM\) is not supported"),
]


@pytest.mark.parametrize("name, make, message", ONNX_CASES, ids=[c[0] for c in ONNX_CASES])
@pytest.mark.parametrize("command", ["compress", "pack"])
def test_bad_onnx(cli, tmp_path, leftovers, name, make, message, command):
    model = make(tmp_path)
    out = tmp_path / ("out.npz" if command == "compress" else "img")
    rc, stdout, stderr = cli(command, model, "-o", out)
    assert rc == 2 and stderr.startswith(f"eiegen {command}: error: ")
    assert re.search(message, stderr), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert leftovers(tmp_path, "m.onnx") == []


def test_more_than_4_bits_has_no_int16_figure(cli, digits_files, tmp_path):
    mlp, data_file, _, data = digits_files
    out, rj = tmp_path / "c.npz", tmp_path / "r.json"
    rc, stdout, err = cli("compress", mlp, "-o", out, "--data", data_file, "--sparsity", "0.5", "--bits", "6",
                          "--max-loss", "10", "--report-json", rj, *SHORT)
    assert rc == 0, err
    a = json.loads(rj.read_text())["accuracy"]
    assert a["int16"] is None and a["final"] == "pruned + quantized, float"
    assert a["loss_pp"] == pytest.approx(100 * (a["float"] - a["quantized"]))
    assert "n/a (> 16 codebook entries)" in stdout
