"""`eiegen systolic`: generate Verilog; run a matmul from .npy files on the
RTL (Verilator), result equal to plain numpy; clear errors, no output left
behind on failure."""

import numpy as np
import pytest

from eiegen.sim.systolic_golden import requantize
from eiegen.sw.cli import main

# the depths of the 4x4 unit in tests/hw/systolic/test_systolic_rtl.py, so
# that the Verilator model built there is reused (cached by parameters)
DEPTHS = ["--ub-depth", "4096", "--acc-depth", "256", "--wmem-depth", "8192", "--imem-depth", "4096"]


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["systolic", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "generate" in out and "run" in out
    with pytest.raises(SystemExit) as e:
        main(["systolic", "run", "--help"])
    assert e.value.code == 0
    assert "--int32" in capsys.readouterr().out


def test_generate(tmp_path, capsys):
    out = tmp_path / "s.v"
    assert main(["systolic", "generate", "--rows", "2", "--cols", "3", "--ub-depth", "64",
                 "-o", str(out)]) == 0
    text = out.read_text()
    assert "module systolic_top" in text
    assert "2 x 3 systolic unit" in capsys.readouterr().out
    bad = tmp_path / "bad.v"
    assert main(["systolic", "generate", "--rows", "33", "-o", str(bad)]) == 2
    assert "rows must be in [1, 32], got 33" in capsys.readouterr().err
    assert not bad.exists()


def test_run_npy_bit_exact(tmp_path, capsys):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (11, 10)).astype(np.int8)
    w = rng.integers(-128, 128, (10, 9)).astype(np.int8)
    x[0] = -128
    w[:, 0] = -128
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    y = tmp_path / "y.npy"
    asm = tmp_path / "p.s"
    rc = main(["systolic", "run", "--rows", "4", "--cols", "4", *DEPTHS, "--x", str(tmp_path / "x.npy"),
               "--w", str(tmp_path / "w.npy"), "--int32", "--out", str(y), "--asm", str(asm)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "OK: bit-exact" in out
    np.testing.assert_array_equal(np.load(y), x.astype(np.int64) @ w.astype(np.int64))
    assert "MMUL" in asm.read_text() and asm.read_text().rstrip().endswith("HALT")
    # int8 result with ReLU and an explicit requantisation
    rc = main(["systolic", "run", "--rows", "4", "--cols", "4", *DEPTHS, "--x", str(tmp_path / "x.npy"),
               "--w", str(tmp_path / "w.npy"), "--mult", "3", "--shift", "9", "--relu",
               "--out", str(y)])
    assert rc == 0, capsys.readouterr().out
    want = requantize(x.astype(np.int64) @ w.astype(np.int64), 3, 9, relu=True)
    np.testing.assert_array_equal(np.load(y), want)
    assert want.max() == 127 and want.min() == 0, "the case saturates and clips"


@pytest.mark.parametrize("xs,ws,extra,msg", [
    ((5, 4), (3, 2), [], "inner dimensions differ"),
    ((5, 4), (4, 2), ["-M", "6"], "-M 6 disagrees with the X matrix"),
    ((5, 4), (4, 2), ["--mult", "0"], "multiplier 0 is not supported"),
    ((5, 4), (4, 2), ["--mult", "-2"], "negative multiplier"),
    ((5, 4), (4, 2), ["--ub-depth", "2"], "unified buffer"),
])
def test_run_errors(tmp_path, capsys, xs, ws, extra, msg):
    np.save(tmp_path / "x.npy", np.ones(xs, dtype=np.int8))
    np.save(tmp_path / "w.npy", np.ones(ws, dtype=np.int8))
    y = tmp_path / "y.npy"
    rc = main(["systolic", "run", "--rows", "2", "--cols", "2", "--x", str(tmp_path / "x.npy"),
               "--w", str(tmp_path / "w.npy"), "--out", str(y), *extra])
    assert rc == 2
    assert msg in capsys.readouterr().err
    assert not y.exists()


def test_run_refuses_out_of_range_and_missing_files(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.full((3, 3), 200))
    np.save(tmp_path / "w.npy", np.ones((3, 3), dtype=np.int8))
    assert main(["systolic", "run", "--rows", "2", "--cols", "2", "--x", str(tmp_path / "x.npy"),
                 "--w", str(tmp_path / "w.npy")]) == 2
    assert "input[0, 0] = 200 is outside the signed 8-bit range" in capsys.readouterr().err
    assert main(["systolic", "run", "--x", str(tmp_path / "nope.npy")]) == 2
    assert "cannot read X" in capsys.readouterr().err


def test_run_conv_bit_exact(tmp_path, capsys):
    """A convolution from .npy files (NHWC), stride 2, padding 1: the result is
    the golden convolution, and the per-layer table shows the im2col matmul."""
    from eiegen.sim.systolic_golden import conv2d_layer
    rng = np.random.default_rng(8)
    x = rng.integers(-128, 128, (2, 7, 6, 3)).astype(np.int8)        # N, H, W, C
    w = rng.integers(-128, 128, (5, 3, 3, 3)).astype(np.int8)        # O, C, kh, kw
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    y = tmp_path / "y.npy"
    rc = main(["systolic", "run", "--rows", "4", "--cols", "4", *DEPTHS, "--conv", "--layout", "NHWC",
               "--x", str(tmp_path / "x.npy"), "--w", str(tmp_path / "w.npy"), "--stride", "2",
               "--padding", "1", "--mult", "5", "--shift", "12", "--relu", "--out", str(y)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "OK: bit-exact" in out and "im2col (24 x 27) @ (27 x 5)" in out
    assert "SCALE-Sim" in out
    want = conv2d_layer(x.transpose(0, 3, 1, 2), w, 5, 12, True, 2, 1).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.load(y), want)


@pytest.mark.parametrize("extra,msg", [
    (["--conv", "--input-shape", "1,3,8"], "--input-shape must be 4 comma-separated integers"),
    (["--conv", "--input-shape", "1,3,2,2", "--kernel", "3"], "does not fit a 2 x 2 input"),
    (["--conv", "--stride", "0"], "--stride: must be >= 1"),
    (["--conv", "--kernel", "a"], "--kernel must be"),
    (["--conv", "-M", "3"], "-M is for a matmul"),
    (["--stride", "2"], "--stride is for a convolution"),
])
def test_run_conv_errors(capsys, extra, msg):
    assert main(["systolic", "run", "--rows", "2", "--cols", "2", *extra]) == 2
    assert msg in capsys.readouterr().err
