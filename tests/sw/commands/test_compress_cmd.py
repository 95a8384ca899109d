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
    ("bits", lambda t: _bad(t, "m.npz"), ["--bits", "9"], r"argument --bits: must be 1\.\.8, got 9"),
    ("pes", lambda t: _bad(t, "m.npz"), ["--pes", "0", "--balance"], r"argument --pes: n_pes must be in \[1, 64\], got 0"),
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
