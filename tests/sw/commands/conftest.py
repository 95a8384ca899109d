"""Shared helpers for the CLI tests: model files and an in-process `eiegen`."""

import numpy as np
import pytest

from eiegen.sw.cli import main


def write_float_npz(path, shapes=((48, 30), (20, 48), (10, 20)), seed=0, **override):
    rng = np.random.default_rng(seed)
    arrays = {}
    for i, (o, n) in enumerate(shapes):
        arrays[f"fc{i + 1}.weight"] = rng.standard_normal((o, n)) * 0.3
        arrays[f"fc{i + 1}.bias"] = rng.standard_normal(o) * 0.1
    arrays.update(override)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit code, stdout, stderr) of `eiegen argv...` run in process."""
    def run(*argv):
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


@pytest.fixture
def float_model(tmp_path):
    return write_float_npz(tmp_path / "model.npz")


@pytest.fixture
def compressed(cli, float_model, tmp_path):
    out = tmp_path / "c.npz"
    rc, _, err = cli("compress", float_model, "-o", out, "--sparsity", "0.8,0.7,0.5", "--pes", "4",
                     "--balance", "-q")
    assert rc == 0, err
    return out


@pytest.fixture
def image(cli, compressed, tmp_path):
    out = tmp_path / "img"
    rc, _, err = cli("pack", compressed, "-o", out, "--pes", "4", "--fit")
    assert rc == 0, err
    return out


def _leftovers(directory, *expected):
    return sorted(p.name for p in directory.iterdir() if p.name not in expected)


@pytest.fixture
def leftovers():
    """leftovers(directory, *expected) -> names in directory other than expected
    (temporary files included)."""
    return _leftovers


@pytest.fixture
def make_npz():
    """make_npz(path, shapes=..., seed=0, **arrays overriding the defaults) -> path."""
    return write_float_npz
