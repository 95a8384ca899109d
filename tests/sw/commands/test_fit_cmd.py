"""`eiegen fit`: a model that fits a board's default build, one that fits
with the options it names (packing and a build's parameters with them
work), one no array of the board can hold (exit 1, naming the memory), the
capacity table and its --update, and bad arguments."""

import json

import numpy as np
import pytest

from eiegen.boards.board import get_board
from eiegen.boards.capacity import DOC_BEGIN, DOC_END
from eiegen.sim.testdata import random_compressed_model
from eiegen.sw.fit import capacity, fit
from eiegen.sw.image import read_image
from eiegen.sw.model import save_compressed_model, load_model


def _model(tmp_path, sizes, density, name="m.npz", seed=0):
    path = tmp_path / name
    save_compressed_model(random_compressed_model(np.random.default_rng(seed), sizes, density), path)
    return path


def test_fits_the_default_build(cli, tmp_path):
    ulx = get_board("ulx3s")
    c = capacity(ulx.eie_params())
    path = _model(tmp_path, [c["max_inputs"] // 2, 40, 10], 0.2)
    rc, out, err = cli("fit", path, "--board", "ulx3s")
    assert rc == 0, err
    assert "fits the default build" in out and "TOO SMALL" not in out
    assert "cycles per inference (cycle model)" in out
    assert f"inferences/s at {ulx.design_hz('eie') / 1e6:g} MHz" in out
    rc, out, _ = cli("fit", path, "--board", "ulx3s", "--json")
    d = json.loads(out)
    assert d["fits"] and d["cycles"]["inputs"] == "all non-zero"
    assert d["inferences_per_s"] == pytest.approx(ulx.design_hz("eie") / d["cycles"]["mean"])


def test_lenet_300_100_fits_the_ulx3s_default(cli, tmp_path):
    # the Deep Compression paper's MLP at its density (8 %, 9 %, 26 %)
    path = _model(tmp_path, [784, 300, 100, 10], [0.08, 0.09, 0.26])
    rc, out, err = cli("fit", path, "--board", "ulx3s")
    assert rc == 0, err
    assert "fits the default build" in out and "TOO SMALL" not in out


def test_names_the_options_that_fit(cli, tmp_path):
    # twice LeNet-300-100's input: wider than the default build's activation files
    # (one hidden layer: with both, 48 PEs also need more column pointers than fit)
    path = _model(tmp_path, [1568, 100, 10], [0.08, 0.26])
    rc, out, err = cli("fit", path, "--board", "ulx3s", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert not d["fits"]
    opts = d["options"]
    assert opts == fit(load_model(path), get_board("ulx3s").eie_params()).options()
    assert "--act-depth" in opts
    # the options it names: pack with them, and a build takes them
    args = [x for k, v in opts.items() for x in (k, v)]
    rc, _, err = cli("pack", path, "-o", tmp_path / "img", "--board", "ulx3s", *args)
    assert rc == 0, err
    params = read_image(tmp_path / "img").params
    want = get_board("ulx3s").eie_params(**{k[2:].replace("-", "_"): v for k, v in opts.items()})
    assert params.image_dict() == want.image_dict()
    rc, out, _ = cli("fit", path, "--board", "ulx3s")
    assert f"eiegen pack {path} -o IMAGE --board ulx3s " in out and "memory estimate:" in out


def test_cannot_fit_names_the_memory(cli, tmp_path):
    # more inputs than the iCEBreaker's block RAMs can give activation files
    path = _model(tmp_path, [4000, 16], 0.01)
    rc, out, err = cli("fit", path, "--board", "icebreaker")
    assert rc == 1, err
    # 4 PEs: 1000 activations and 2001 column pointers per bank per PE
    assert "cannot fit the icebreaker: with --ptr-depth 2048 --act-depth 1024 the array needs" in out
    assert "block RAMs (the ptr_even + ptr_odd memories most), the device has 30: short by" in out
    rc, out, _ = cli("fit", path, "--board", "icebreaker", "--json")
    assert rc == 1 and "cannot" in json.loads(out)
    # and beyond what the generator allows at all
    path = _model(tmp_path, [60000, 16], 0.001, name="huge.npz")
    rc, out, _ = cli("fit", path, "--board", "icebreaker")
    assert rc == 1 and "act_depth would have to be 15000, beyond what an EIE array may have" in out


def test_input_gives_the_cycles_of_real_inputs(cli, tmp_path):
    path = _model(tmp_path, [30, 20, 10], 0.3)
    x = np.random.default_rng(1).standard_normal((3, 30)) * (np.arange(30) % 2)
    np.save(tmp_path / "x.npy", x)
    rc, out, err = cli("fit", path, "--board", "ulx3s", "--input", tmp_path / "x.npy", "--json")
    assert rc == 0, err
    d = json.loads(out)["cycles"]
    assert d["inputs"] == "given" and d["min"] <= d["mean"] <= d["max"]


def test_capacity_table_and_update(cli, tmp_path):
    rc, out, _ = cli("fit", "--capacity")
    assert rc == 0 and "| `icebreaker` |" in out and "| `ulx3s` |" in out
    doc = tmp_path / "boards.md"
    doc.write_text(f"intro\n{DOC_BEGIN}\nstale\n{DOC_END}\nrest\n")
    rc, _, err = cli("fit", "--capacity", "--update", doc)
    assert rc == 0, err
    assert doc.read_text() == f"intro\n{DOC_BEGIN}\n{out.strip()}\n{DOC_END}\nrest\n"
    (tmp_path / "plain.md").write_text("no markers\n")
    rc, _, err = cli("fit", "--capacity", "--update", tmp_path / "plain.md")
    assert rc == 2 and "no capacity table markers" in err
    assert (tmp_path / "plain.md").read_text() == "no markers\n"


@pytest.mark.parametrize("argv, msg", [
    (["--board", "ulx3s"], "give a model and --board"),
    (["MODEL"], "give a model and --board"),
    (["MODEL", "--board", "ulx3s", "--update", "x.md"], "--update goes with --capacity"),
])
def test_bad_arguments(cli, tmp_path, argv, msg):
    path = _model(tmp_path, [20, 10], 0.3)
    rc, _, err = cli("fit", *[str(path) if a == "MODEL" else a for a in argv])
    assert rc == 2 and msg in err


def test_bad_model_file(cli, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    rc, _, err = cli("fit", tmp_path / "bad.npz", "--board", "ulx3s")
    assert rc == 2 and "bad.npz" in err and "Traceback" not in err
