import importlib.util

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.compress import (compress_layer, compress_model, parse_sparsity, pe_nonzeros,
                                sparsity_per_layer)
from eiegen.sw.errors import EiegenError, ModelError
from eiegen.sw.fixedpoint import to_fixed
from eiegen.sw.model import CompressedModel, FloatLayer, FloatModel, load_model
from eiegen.sw.packer import pack


def _model(seed=0):
    rng = np.random.default_rng(seed)
    return FloatModel([FloatLayer("fc1", rng.standard_normal((48, 30)), rng.standard_normal(48), True),
                       FloatLayer("fc2", rng.standard_normal((20, 48)), None, True),
                       FloatLayer("fc3", rng.standard_normal((10, 20)), np.zeros(10), False)])


@pytest.mark.parametrize("sparsity", [0.9, [0.9, 0.8, 0.5], {"fc1": 0.9, "fc2": 0.8, "fc3": 0.5}])
def test_compress_model_densities(sparsity):
    m = _model()
    c = compress_model(m, sparsity, bits=4)
    per = sparsity_per_layer(sparsity, ["fc1", "fc2", "fc3"])
    for cl, fl in zip(c.layers, m.layers):
        assert (cl.index != 0).sum() == round((1 - per[cl.name]) * cl.index.size)
        assert cl.codebook[0] == 0.0 and len(cl.codebook) == 16
        assert np.array_equal(cl.bias if cl.bias is not None else 0, fl.bias if fl.bias is not None else 0)
        assert cl.relu == fl.relu
        # survivors are the largest weights, and each is coded by a nearby centroid
        kept = cl.index != 0
        assert np.abs(fl.weight[kept]).min() >= np.abs(fl.weight[~kept]).max()
        assert np.abs(cl.dense()[kept] - fl.weight[kept]).max() < 0.5


def test_compress_model_balanced_and_progress():
    lines = []
    c = compress_model(_model(), 0.75, bits=3, pes=4, balance=True, progress=lines.append)
    for l in c.layers:
        nz = pe_nonzeros(l.index, 4)
        assert (nz == nz[:1]).all()
        assert len(l.codebook) == 8
    assert len(lines) == 3 and lines[0].startswith("fc1: 48 x 30, sparsity 0.75 (balanced for 4 PEs)")
    g = compress_model(_model(), 0.75, pes=4, balance=True, group=5)
    nz = pe_nonzeros(g.layers[0].index, 4)
    grouped = np.add.reduceat(nz, np.arange(0, 30, 5), axis=1)
    assert (grouped == grouped[:1]).all()


def test_compress_then_pack_decode_round_trip():
    m = _model(1)
    c = compress_model(m, [0.8, 0.7, 0.0], pes=3, balance=True)
    im = pack(c, EIEParams(n_pes=3, act_depth=64))
    for d, l in zip(im.decode(), c.layers):
        assert np.array_equal(d.index, l.index)
        assert np.array_equal(d.weight, to_fixed(l.codebook, 8)[l.index])


def test_compress_layer_alone():
    l = compress_layer(FloatLayer("x", np.arange(1.0, 21.0).reshape(4, 5)), 0.5, bits=2)
    assert (l.index != 0).sum() == 10 and (l.index[:2] == 0).all() and (l.index[2:] != 0).all()
    assert len(l.codebook) == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(sparsity=1.0), r"layer 'fc1': sparsity 1.0 is outside \[0, 1\)"),
    (dict(sparsity=[0.5, -0.2, 0.5]), r"layer 'fc2': sparsity -0.2 is outside"),
    (dict(sparsity={"fc1": 0.5, "fc2": 0.5, "fc3": 1.2}), r"layer 'fc3': sparsity 1.2"),
    (dict(sparsity={"fc1": 0.5, "fc9": 0.5}), r"sparsity given for unknown layer\(s\) 'fc9'"),
    (dict(sparsity={"fc1": 0.5}), r"no sparsity given for layer\(s\) 'fc2', 'fc3'"),
    (dict(sparsity=[0.5, 0.5]), r"sparsity has 2 value\(s\) for 3 layer\(s\)"),
    (dict(sparsity="0.5"), "sparsity must be a number"),
    (dict(bits=0), r"layer 'fc1': bits must be an integer from 1 to 8, got 0"),
    (dict(balance=True), "load-balance-aware pruning needs the number of PEs"),
    (dict(pes=0, balance=True), "number of PEs must be a positive integer"),
    (dict(pes=2, balance=True, group=0), "column group"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ModelError, match=message):
        compress_model(_model(), **kwargs)


def test_already_compressed():
    c = compress_model(_model(), 0.5)
    with pytest.raises(ModelError, match="already compressed"):
        compress_model(c)


def test_parse_sparsity():
    names = ["fc1", "fc2"]
    assert parse_sparsity("0.9", names) == 0.9
    assert parse_sparsity("0.8, 0.9", names) == [0.8, 0.9]
    assert parse_sparsity("fc2=0.8,fc1=0.9", names) == {"fc2": 0.8, "fc1": 0.9}
    for text, message in [("", "empty"), ("0.8,,0.9", "empty item"), ("abc", "'abc' is not a number"),
                          ("fc1=0.8,0.9", "mixes name=value"), ("fc1=0.8,fc1=0.9", "given twice"),
                          ("fc1=x", "layer 'fc1': 'x' is not a number")]:
        with pytest.raises(EiegenError, match=message):
            parse_sparsity(text, names)


def test_pytorch_state_dict(tmp_path):
    p = tmp_path / "model.pt"
    if importlib.util.find_spec("torch") is None:
        p.write_bytes(b"not used")
        with pytest.raises(ModelError, match=r"model.pt: reading a PyTorch state_dict needs torch"):
            load_model(p)
    else:
        import torch
        m = _model()
        state = {}
        for l in m.layers:
            state[f"{l.name}.weight"] = torch.tensor(l.weight, dtype=torch.float32)
            if l.bias is not None:
                state[f"{l.name}.bias"] = torch.tensor(l.bias, dtype=torch.float32)
        torch.save(state, p)
        loaded = load_model(p)
        assert [l.name for l in loaded.layers] == ["fc1", "fc2", "fc3"]
        assert np.allclose(loaded.layers[1].weight, m.layers[1].weight, atol=1e-6)
        assert isinstance(compress_model(loaded, 0.5), CompressedModel)
