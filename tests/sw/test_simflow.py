"""The `eiegen sim` flow end to end (sw/simflow.py, sw/commands/sim.py), reduced:
a small digits MLP, short training, a few test samples through the generated
Verilog. The arrays use the memory geometry of tests/hw/eie/test_array.py so
the simulator builds are shared with it (cached by parameters)."""

import json

import numpy as np
import pytest

from eiegen.sw import simflow
from eiegen.sw.cli import main
from eiegen.sw.image import read_image
from eiegen.sw.model import CompressedModel, load_model
from eiegen.sw.packer import pack
from eiegen.sim.eie_golden import image_forward
from eiegen.sim.eie_cycles import simulate

GEOMETRY = dict(spmat_depth=1024, ptr_depth=256, bias_depth=256, act_depth=64, max_layers=4)


def small(tmp_path, **kw):
    o = dict(hidden=(32,), epochs=12, retrain_epochs=3, finetune_epochs=3, prune_steps=2, sparsity=0.7,
             pes=4, fifo_depth=8, depths=GEOMETRY, limit=24, sweep=False, out=tmp_path / "out",
             max_drop=3.0, lr=3e-3)
    o.update(kw)
    return simflow.SimOptions(**o)


def quiet(_line):
    pass


def test_flow_on_verilator_is_bit_exact(tmp_path):
    r = simflow.run_flow(small(tmp_path), quiet)
    out = tmp_path / "out"
    rtl = r["rtl"]
    assert rtl["simulator"] == "verilator" and rtl["inputs"] == 24
    assert rtl["bit_exact"] and rtl["mismatches"] == 0 and rtl["outputs_compared"] == 240
    assert rtl["counters_equal_cycle_model"]
    acc = r["accuracy"]
    assert acc["rtl"] == acc["golden"]
    # accuracy within tolerance on the whole test split (short training: 3 pp)
    full = r["accuracy_full_test_set"]
    assert full["samples"] > 300 and full["float"] > 0.9
    assert r["accuracy_ok"] and r["accuracy_drop_pp"] <= 3.0
    # artefacts: the image holds the saved compressed model; the report matches
    doc = json.loads((out / "report.json").read_text())
    assert doc["rtl"]["cycles_mean"] == rtl["cycles_mean"]
    for f in ("pe_load.png", "model_float.npz", "model_compressed.npz", "test_set.npz", "report.txt",
              "image/manifest.json"):
        assert (out / f).exists(), f
    cm = load_model(out / "model_compressed.npz")
    assert isinstance(cm, CompressedModel) and [l.shape for l in cm.layers] == [(32, 64), (10, 32)]
    image = read_image(out / "image")
    assert image.params.n_pes == 4 and image.params.spmat_depth == 1024
    ts = np.load(out / "test_set.npz")
    y = image_forward(image.decode(), ts["x_test_fixed"], frac=8, acc_width=32)
    assert np.mean(np.argmax(y, axis=1) == ts["y_test"]) == acc["golden"]
    # cycles and load efficiency are the cycle model's for these inputs
    outs = image_forward(image.decode(), ts["x_test_fixed"], frac=8, acc_width=32, all_layers=True)
    reps = [simulate(image, ts["x_test_fixed"][b], fifo_depth=8,
                     layer_inputs=[ts["x_test_fixed"][b], outs[0][b]]) for b in range(24)]
    assert rtl["cycles_mean"] == pytest.approx(np.mean([x.total_cycles for x in reps]))
    assert rtl["load_efficiency_mean"] == pytest.approx(np.mean([x.load_efficiency for x in reps]))
    assert sum(rtl["busy_per_pe"]) == sum(x.entries for x in reps)
    # systolic: 2 x 2 = 4 multipliers, speed-up is the ratio of the cycle counts
    sy = r["systolic"]
    assert (sy["rows"], sy["cols"]) == (2, 2)
    assert sy["speedup_batch1"] == pytest.approx(sy["cycles_batch1"] / rtl["cycles_mean"])
    assert "RTL bit-exact with golden            yes" in r["table"] or "yes (0 of 240" in r["table"]


@pytest.mark.icarus
def test_flow_on_icarus(tmp_path):
    geo = dict(GEOMETRY)
    r = simflow.run_flow(small(tmp_path, pes=2, fifo_depth=2, limit=4, depths=geo, simulator="icarus"), quiet)
    assert r["rtl"]["bit_exact"] and r["rtl"]["counters_equal_cycle_model"]
    assert r["accuracy"]["rtl"] == r["accuracy"]["golden"]


def test_flow_cycle_model_only_with_sweep(tmp_path):
    r = simflow.run_flow(small(tmp_path, simulator="none", sweep=True, retrain_epochs=2, finetune_epochs=2,
                               depths=None, pes=3, fifo_depth=2, limit=None), quiet)
    out = tmp_path / "out"
    assert (out / "accuracy_vs_sparsity.png").exists() and (out / "pe_load.png").exists()
    sw = r["sweep"]
    assert sw["sparsities"] == list(simflow.SWEEP_SPARSITIES)
    assert len(sw["both"]) == len(sw["pruned"]) == len(sw["sparsities"])
    # denser is not worse than the sparsest point by a wide margin (the sweep is real)
    assert sw["both"][0] > sw["both"][-1] - 0.02
    assert r["rtl"]["simulator"] == "none" and r["data"]["test_samples"] > 300
    # fitted depths: the smallest powers of two holding the model
    p = r["params"]
    assert p["n_pes"] == 3 and p["act_depth"] == 32         # ceil(64 / 3) = 22 -> 32
    assert r["systolic"]["rows"] * r["systolic"]["cols"] == 3


def test_systolic_helpers():
    assert simflow.systolic_shape(1) == (1, 1)
    assert simflow.systolic_shape(4) == (2, 2)
    assert simflow.systolic_shape(8) == (2, 4)
    assert simflow.systolic_shape(7) == (1, 7)
    from eiegen.sim.systolic_cycles import ideal_cycles
    shapes = [(16, 24), (8, 16)]
    c1 = simflow.systolic_dense_cycles(shapes, 2, 2, batch=1)
    c8 = simflow.systolic_dense_cycles(shapes, 2, 2, batch=8)
    ideal8 = sum(ideal_cycles(8, k, n, 2, 2) for n, k in shapes)
    assert c8 >= ideal8 and c1 >= sum(ideal_cycles(1, k, n, 2, 2) for n, k in shapes)
    assert c8 / 8 < c1          # batching amortises the weight loads
    # the same number as the compiler's program through the systolic cycle model
    from eiegen.hw.systolic.params import SystolicParams
    from eiegen.sim.systolic_cycles import simulate
    from eiegen.sw.systolic.compiler import Layer, compile_layers, fit_params
    layers = [Layer(np.zeros((k, n), np.int8), 1, 0, True) for n, k in shapes]
    p = fit_params(8, layers, SystolicParams(rows=2, cols=2))
    assert simulate(compile_layers(8, layers, p).program, p).cycles == c8


def test_board_defaults():
    n, fifo, src = simflow.board_eie_defaults()
    assert 1 <= n <= 64 and 1 <= fifo <= 64 and src


def test_cli_compressed_model_and_errors(tmp_path, capsys):
    # a compressed model skips training and compression
    r = simflow.run_flow(small(tmp_path, simulator="none", limit=10), quiet)
    cm_path = tmp_path / "out" / "model_compressed.npz"
    out2 = tmp_path / "out2"
    rc = main(["sim", "--model", str(cm_path), "--simulator", "none", "--pes", "2", "--limit", "10",
               "-o", str(out2), "-q"])
    text = capsys.readouterr().out
    assert rc == 0, text
    doc = json.loads((out2 / "report.json").read_text())
    assert doc["accuracy"]["float"] is None
    assert doc["accuracy"]["golden"] == pytest.approx(r["accuracy"]["golden"])
    assert "compressed accuracy (golden, int16)" in text and "RTL accuracy" in text
    # a model that does not match the digits test set, no --data: error, nothing written
    from eiegen.sw.model import FloatLayer, FloatModel, save_float_model
    bad = tmp_path / "bad.npz"
    save_float_model(FloatModel([FloatLayer("a", np.ones((10, 30)), None, False)]), bad)
    out3 = tmp_path / "out3"
    rc = main(["sim", "--model", str(bad), "-o", str(out3), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "30 inputs" in err and "--data" in err and not out3.exists()
    # the same model with a matching --data set (no training split: no retraining)
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x_test=rng.random((6, 30)), y_test=rng.integers(0, 10, 6))
    rc = main(["sim", "--model", str(bad), "--data", str(data), "--simulator", "none", "--sparsity", "0.5",
               "-o", str(out3), "-q", "--pes", "2"])
    assert rc == 0 and (out3 / "report.json").exists(), capsys.readouterr()
    capsys.readouterr()
    for args, msg in ((["--limit", "0"], "--limit"), (["--sparsity", "1.5"], "outside [0, 1)"),
                      (["--bits", "5"], "--bits"), (["--sparsity", "0.8,0.9"], "2 values for 3 layers"),
                      (["--sparsity", "fc9=0.5"], "fc9")):
        rc = main(["sim", "-o", str(tmp_path / "none"), "-q", "--simulator", "none", "--epochs", "1",
                   "--no-sweep"] + args)
        err = capsys.readouterr().err
        assert rc == 2 and msg in err, (args, err)
        assert not (tmp_path / "none").exists()


def test_sim_and_compress_share_one_retraining(tmp_path, capsys):
    """`eiegen sim --model M --data D` and `eiegen compress M --data D` with the
    same options give the same compressed model: one implementation
    (eiegen.sw.train.deep_compress)."""
    from eiegen.sw import train as T
    from eiegen.sw.model import save_float_model
    data = T.load_digits_dataset()
    model = T.train(T.init_mlp([64, 16, 10], seed=2), data, epochs=6, lr=3e-3)
    save_float_model(model, tmp_path / "m.npz")
    np.savez(tmp_path / "d.npz", x=np.concatenate([data.x_train, data.x_test]),
             y=np.concatenate([data.y_train, data.y_test]))
    rc = main(["sim", "--model", str(tmp_path / "m.npz"), "--data", str(tmp_path / "d.npz"), "--simulator", "none",
               "--pes", "2", "--sparsity", "fc1=0.8,fc2=0.6", "--prune-steps", "2", "--retrain-epochs", "2",
               "--finetune-epochs", "2", "--seed", "4", "--no-sweep", "--max-drop", "50", "-o",
               str(tmp_path / "sim"), "-q"])
    assert rc == 0, capsys.readouterr()
    rc = main(["compress", str(tmp_path / "m.npz"), "-o", str(tmp_path / "c.npz"), "--data", str(tmp_path / "d.npz"),
               "--pes", "2", "--sparsity", "fc1=0.8,fc2=0.6", "--prune-steps", "2", "--epochs", "2",
               "--finetune-epochs", "2", "--seed", "4", "--lr", "0.001", "--max-loss", "50", "-q"])
    assert rc == 0, capsys.readouterr()
    a, b = load_model(tmp_path / "sim" / "model_compressed.npz"), load_model(tmp_path / "c.npz")
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.index, lb.index)
        np.testing.assert_array_equal(la.codebook, lb.codebook)
        np.testing.assert_array_equal(la.bias, lb.bias)
        assert la.sparsity == lb.sparsity
    doc = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert doc["data"]["test_samples"] == 359 and doc["data"]["train_samples"] == 1438   # x, y split 80/20
