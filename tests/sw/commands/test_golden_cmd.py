import json

import numpy as np
import pytest

from eiegen.sw.fixedpoint import to_fixed
from eiegen.sw.model import load_model


def _reference(model, xq, frac=8):
    """Integer forward pass without saturation (values here are far from the limits)."""
    a = xq.astype(np.int64)
    for l in model.layers:
        w = to_fixed(l.codebook, frac)[l.index].astype(np.int64)
        acc = (to_fixed(l.bias, frac).astype(np.int64) << frac) + a @ w.T
        y = np.clip((acc + (1 << (frac - 1))) >> frac, -32768, 32767)
        a = np.maximum(y, 0) if l.relu else y
    return a.astype(np.int16)


def test_golden_float_batch(cli, compressed, image, tmp_path):
    x = np.random.default_rng(4).uniform(-1, 1, (5, 30))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    rc, stdout, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out)
    assert rc == 0, err
    y = np.load(out)
    assert y.shape == (5, 10) and y.dtype == np.int16
    c = load_model(compressed)
    assert np.array_equal(y, _reference(c, to_fixed(x, 8)))
    # and close to the float model with the quantized weights
    assert np.abs(y / 256.0 - c.forward(x)).max() < 0.1
    assert "(5, 10) int16 (Q7.8)" in stdout


def test_golden_int16_vector_and_cycles(cli, compressed, image, tmp_path):
    xq = np.random.default_rng(5).integers(-300, 300, 30).astype(np.int16)
    xq[::3] = 0
    np.save(tmp_path / "x.npy", xq)
    out, rj = tmp_path / "y.npy", tmp_path / "cycles.json"
    rc, stdout, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out, "--cycles",
                          "--report-json", rj, "--input-format", "codes")
    assert rc == 0, err
    y = np.load(out)
    assert y.shape == (10,) and y.dtype == np.int16
    assert np.array_equal(y, _reference(load_model(compressed), xq))
    lines = stdout.splitlines()
    assert lines[1].split()[:3] == ["layer", "cycles", "compute"]
    assert [ln.split()[0] for ln in lines[2:6]] == ["fc1", "fc2", "fc3", "total"]
    rep = json.loads(rj.read_text())
    assert len(rep) == 1 and rep[0]["total_cycles"] == int(lines[5].split()[1]) > 0
    # fc1 broadcasts exactly the non-zero inputs (EIE skips zero activations)
    assert rep[0]["layers"][0]["broadcasts"] == np.count_nonzero(xq)


def _bad_inputs(t):
    np.save(t / "wide.npy", np.zeros((2, 31)))
    np.save(t / "nan.npy", np.full(30, np.nan))
    np.save(t / "cube.npy", np.zeros((2, 3, 30)))
    np.save(t / "big.npy", np.full(30, 40000, dtype=np.int32))
    (t / "junk.npy").write_bytes(b"not numpy")


INPUT_CASES = [
    ("wide.npy", "wide.npy: input has 31 values per vector; layer 'fc1' takes 30"),
    ("nan.npy", "nan.npy: input has NaN or Inf values"),
    ("cube.npy", "cube.npy: input must be 1-D or 2-D, got shape (2, 3, 30)"),
    ("big.npy", "big.npy: integer input outside int16"),
    ("junk.npy", "junk.npy: not a readable .npy file"),
]


@pytest.mark.parametrize("name, message", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
def test_bad_input_vector(cli, image, tmp_path, name, message):
    _bad_inputs(tmp_path)
    out = tmp_path / "y.npy"
    rc, _, err = cli("golden", image, "--input", tmp_path / name, "-o", out, "--cycles",
                     *(["--input-format", "codes"] if name == "big.npy" else []))
    assert rc != 0 and message in err, err
    assert err.startswith("eiegen golden: error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def _corrupt(image):
    p = image / "pe00_spmat.hex"
    b = bytearray(p.read_bytes())
    b[2] = ord("f") if b[2] != ord("f") else ord("0")
    p.write_bytes(bytes(b))
    return "pe00_spmat.hex: checksum mismatch"


def _truncate(image):
    p = image / "codebook.hex"
    p.write_bytes(p.read_bytes()[:-10])
    return "codebook.hex: checksum mismatch (file corrupted or truncated"


def _empty_manifest(image):
    (image / "manifest.json").write_text("")
    return "corrupted manifest"


@pytest.mark.parametrize("damage", [_corrupt, _truncate, _empty_manifest], ids=lambda f: f.__name__[1:])
def test_damaged_image(cli, image, tmp_path, leftovers, damage):
    np.save(tmp_path / "x.npy", np.zeros(30))
    message = damage(image)
    before = leftovers(tmp_path)
    out, rj = tmp_path / "y.npy", tmp_path / "c.json"
    rc, _, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out, "--cycles",
                     "--report-json", rj)
    assert rc != 0 and message in err, err
    assert err.startswith("eiegen golden: error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists() and not rj.exists() and leftovers(tmp_path) == before


def test_integer_inputs_must_say_what_they_are(cli, compressed, image, tmp_path):
    """Raw pixels 0..16 as int64 are not Q7.8 codes: refused with the reason
    unless --input-format says codes or numbers."""
    px = np.random.default_rng(8).integers(0, 17, (3, 30))
    np.save(tmp_path / "px.npy", px)
    out = tmp_path / "y.npy"
    rc, _, err = cli("golden", image, "--input", tmp_path / "px.npy", "-o", out)
    assert rc == 2 and not out.exists()
    assert "px.npy: holds integers (int64, " in err and "--input-format codes" in err \
        and "--input-format float" in err and "Q7.8" in err
    rc, _, err = cli("golden", image, "--input", tmp_path / "px.npy", "-o", out, "--input-format", "float")
    assert rc == 0, err
    assert np.array_equal(np.load(out), _reference(load_model(compressed), to_fixed(px.astype(float), 8)))
    rc, _, err = cli("golden", image, "--input", tmp_path / "px.npy", "-o", out, "--input-format", "codes")
    assert rc == 0, err
    assert np.array_equal(np.load(out), _reference(load_model(compressed), px.astype(np.int16)))
    np.save(tmp_path / "f.npy", px.astype(float))
    rc, _, err = cli("golden", image, "--input", tmp_path / "f.npy", "-o", out, "--input-format", "codes")
    assert rc == 2 and "--input-format codes reads integer codes" in err


def test_batch_cycles_print_one_summary(cli, image, tmp_path):
    from eiegen.sim.eie_cycles import simulate
    from eiegen.sw.image import read_image
    x = np.random.default_rng(9).uniform(-1, 1, (40, 30))
    x[:, ::4] = 0
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    rc, stdout, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out, "--cycles")
    assert rc == 0, err
    lines = stdout.splitlines()
    assert len(lines) < 10 and "input 0:" not in stdout
    assert lines[1] == "cycle model, 40 inputs, FIFO depth 8:"
    im = read_image(image)
    reps = [simulate(im, v, fifo_depth=8) for v in to_fixed(x, 8)]
    cyc = [r.total_cycles for r in reps]
    eff = [r.load_efficiency for r in reps]
    assert lines[2].split()[3:] == [f"{np.mean(cyc):.0f}", "mean", f"({min(cyc)}", "..", f"{max(cyc)})"]
    assert f"{np.mean(eff):.1%} mean ({min(eff):.1%} .. {max(eff):.1%})" in lines[3]
    rc, per, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out, "--cycles", "--per-input")
    assert rc == 0 and per.count("input ") >= 40 and "cycle model, 40 inputs" in per


@pytest.mark.parametrize("opt", [["--report-json", "r.json"], ["--per-input"]])
def test_cycle_options_need_cycles(cli, image, tmp_path, opt):
    """--report-json and --per-input without --cycles used to be ignored (no
    report written, exit 0): refused, naming the option, before any output."""
    np.save(tmp_path / "x.npy", np.zeros((2, 30)))
    out = tmp_path / "y.npy"
    argv = [tmp_path / o if o.endswith(".json") else o for o in opt]
    rc, _, err = cli("golden", image, "--input", tmp_path / "x.npy", "-o", out, *argv)
    assert rc == 2 and f"{opt[0]}: only with --cycles (the cycle model's report)" in err, err
    assert not out.exists() and not (tmp_path / "r.json").exists()
