import json
import re

import numpy as np
import pytest

from eiegen.sw.image import read_image
from eiegen.sw.model import CompressedLayer, CompressedModel, load_model, save_compressed_model


def test_pack_compressed_model(cli, compressed, tmp_path):
    out = tmp_path / "img"
    rc, stdout, err = cli("pack", compressed, "-o", out, "--pes", "4", "--fit")
    assert rc == 0, err
    assert f"wrote {out}: 3 layer(s) for 4 PEs" in stdout
    im = read_image(out)
    c = load_model(compressed)
    assert im.params.n_pes == 4 and [l.name for l in im.layers] == ["fc1", "fc2", "fc3"]
    for d, l in zip(im.decode(), c.layers):
        assert np.array_equal(d.index, l.index)


def test_pack_float_model_compresses_first(cli, float_model, tmp_path):
    out = tmp_path / "img"
    rc, stdout, err = cli("pack", float_model, "-o", out, "--pes", "2", "--sparsity", "0.8",
                          "--balance", "--fit", "--json")
    assert rc == 0, err
    st = json.loads(stdout)
    assert st["params"]["n_pes"] == 2
    assert st["stats"]["load_balance"] == 1.0
    assert st["stats"]["nonzeros"] == sum(round(0.2 * n) for n in (48 * 30, 20 * 48, 10 * 20))
    assert (out / "manifest.json").exists()


def _codebook32(tmp_path):
    idx = np.arange(40, dtype=np.uint8).reshape(8, 5) % 32
    p = tmp_path / "c32.npz"
    save_compressed_model(CompressedModel([CompressedLayer("wide", np.arange(32) / 8.0, idx)]), p)
    return p


CASES = [
    ("spmat-depth", lambda t: t / "c.npz", ["--pes", "4", "--spmat-depth", "4"],
     r"layer 'fc1': PE 0 spmat memory needs \d+ words, depth is 4 \(over by \d+ words\)"),
    ("act-depth", lambda t: t / "c.npz", ["--pes", "4", "--act-depth", "4"],
     r"layer 'fc1': its input vector of 30 needs 8 activations per PE; .*act_depth = 4 \(over by 4"),
    ("max-layers", lambda t: t / "c.npz", ["--pes", "4", "--max-layers", "2"],
     r"the model has 3 layers; the array holds max_layers = 2 \(over by 1\)"),
    ("codebook", _codebook32, ["--pes", "1", "--fit"],
     r"layer 'wide': codebook has 32 entries; EIE's 4-bit weight index holds 16"),
    ("nan", lambda t: _nan_model(t), ["--pes", "2"],
     r"layer 'fc1': weight has 1 non-finite value\(s\); first is NaN at index \(0, 0\)"),
    ("sparsity", lambda t: t / "model.npz", ["--sparsity", "1"], r"--sparsity: value: 1.0 is outside \[0, 1\)"),
    ("format", lambda t: (t / "model.txt").write_bytes(b"\x08\x01") and t / "model.txt", [],
     r"model.txt: unknown model format '.txt'"),
    ("onnx", lambda t: (t / "model.onnx").write_bytes(b"\x08\x01") and t / "model.onnx", [],
     r"model.onnx: not an ONNX model \(no graph nodes"),
    ("params", lambda t: t / "c.npz", ["--pes", "0"], r"generator parameters:"),
]


def _nan_model(t):
    with np.load(t / "model.npz") as z:
        a = dict(z)
    a["fc1.weight"][0, 0] = np.nan
    np.savez(t / "nan.npz", **a)
    return t / "nan.npz"


@pytest.mark.parametrize("name, make, extra, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(cli, compressed, tmp_path, leftovers, name, make, extra, message):
    model = make(tmp_path)
    inputs = [p.name for p in tmp_path.iterdir()]
    out = tmp_path / "img"
    rc, _, err = cli("pack", model, "-o", out, *extra)
    assert rc != 0
    assert err.startswith("eiegen pack: error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not out.exists()
    assert leftovers(tmp_path, *inputs) == []


def test_pack_for_a_board(cli, compressed, tmp_path):
    """--board starts from the board build's array; options override it;
    an unknown board is refused and nothing is written."""
    from eiegen.boards.board import get_board
    board = get_board("ulx3s").eie_params()
    rc, out, err = cli("pack", compressed, "-o", tmp_path / "img", "--board", "ulx3s", "--json")
    assert rc == 0, err
    assert json.loads(out)["params"] == board.to_dict()
    assert read_image(tmp_path / "img").params == board
    rc, out, err = cli("pack", compressed, "-o", tmp_path / "img2", "--board", "ulx3s", "--pes", "2",
                       "--json")
    assert rc == 0, err
    assert json.loads(out)["params"] == board.replace(n_pes=2).to_dict()
    rc, out, err = cli("pack", compressed, "-o", tmp_path / "img3", "--board", "nosuchboard")
    assert rc == 2 and "unknown board 'nosuchboard'" in err
    assert not (tmp_path / "img3").exists()
