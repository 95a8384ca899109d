"""No command overwrites or deletes what it did not write: an existing output
path that is not an earlier output of the same kind is refused (exit 2, the
path named) before any work, unless --force; earlier outputs are replaced
whole; outputs get the modes of the user's umask."""

import json
import os
import stat

import numpy as np
import pytest

from eiegen.sw.atomic import atomic_dir, atomic_file, check_output, OutputExistsError


@pytest.fixture
def user_dir(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("my notes")
    return d


@pytest.fixture
def user_file(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("my file")
    return f


@pytest.fixture
def x(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.linspace(-1, 1, 30))
    return p


def _refused(rc, err, path):
    assert rc == 2, err
    assert f"output '{path}' exists and is" in err and "--force" in err, err
    assert "Traceback" not in err


def _untouched(user_dir=None, user_file=None):
    if user_dir is not None:
        assert sorted(p.name for p in user_dir.iterdir()) == ["notes.txt"]
        assert (user_dir / "notes.txt").read_text() == "my notes"
    if user_file is not None:
        assert user_file.read_text() == "my file"


# -- the two cases ------------------------------------------------------------

def test_pack_over_a_file_is_refused(cli, compressed, user_file):
    rc, out, err = cli("pack", compressed, "-o", user_file, "--pes", "4", "--fit")
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)


def test_pack_over_a_folder_of_the_users_is_refused(cli, compressed, user_dir):
    rc, out, err = cli("pack", compressed, "-o", user_dir, "--pes", "4", "--fit")
    _refused(rc, err, user_dir)
    _untouched(user_dir=user_dir)


def test_pack_replaces_an_earlier_image_and_force_replaces_anything(cli, compressed, image, user_dir,
                                                                   leftovers):
    before = json.loads((image / "manifest.json").read_text())["params"]["n_pes"]
    rc, _, err = cli("pack", compressed, "-o", image, "--pes", "2", "--fit")
    assert rc == 0, err
    assert before == 4 and json.loads((image / "manifest.json").read_text())["params"]["n_pes"] == 2
    assert not any(p.name.startswith(".") for p in image.parent.iterdir())   # no temporaries
    rc, _, err = cli("pack", compressed, "-o", user_dir, "--pes", "2", "--fit", "--force")
    assert rc == 0, err
    assert (user_dir / "manifest.json").exists() and not (user_dir / "notes.txt").exists()


def test_an_empty_folder_is_used(cli, compressed, tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    rc, _, err = cli("pack", compressed, "-o", d, "--pes", "2", "--fit")
    assert rc == 0, err and (d / "manifest.json").exists()


# -- every command that writes ------------------------------------------------------------

def test_compress(cli, float_model, compressed, user_file, tmp_path):
    mine = tmp_path / "theirs.npz"
    np.savez(mine, a=np.ones(3))                 # an .npz, but not a compressed model
    rc, _, err = cli("compress", float_model, "-o", mine, "-q")
    _refused(rc, err, mine)
    assert list(np.load(mine)) == ["a"]
    rc, _, err = cli("compress", float_model, "-o", compressed, "-q")      # an earlier output
    assert rc == 0, err
    rc, _, err = cli("compress", float_model, "-o", tmp_path / "c2.npz", "--report-json", user_file, "-q")
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)
    assert not (tmp_path / "c2.npz").exists()


def test_compress_output_is_not_its_input(cli, float_model):
    before = float_model.read_bytes()
    rc, _, err = cli("compress", float_model, "-o", float_model, "-q")
    assert rc == 2 and f"output '{float_model}' is also an input" in err
    assert float_model.read_bytes() == before


def test_decode(cli, image, float_model, tmp_path):
    before = float_model.read_bytes()
    rc, _, err = cli("decode", image, "-o", float_model)        # a float model is not decoded output
    _refused(rc, err, float_model)
    assert float_model.read_bytes() == before
    out = tmp_path / "dense.npz"
    assert cli("decode", image, "-o", out)[0] == 0
    assert cli("decode", image, "-o", out)[0] == 0              # replaces its own output


def test_golden(cli, image, x, user_file, tmp_path):
    rc, _, err = cli("golden", image, "--input", x, "-o", user_file)
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)
    before = x.read_bytes()
    rc, _, err = cli("golden", image, "--input", x, "-o", x)
    assert rc == 2 and "also an input" in err and x.read_bytes() == before
    y = tmp_path / "y.npy"
    assert cli("golden", image, "--input", x, "-o", y)[0] == 0
    assert cli("golden", image, "--input", x, "-o", y)[0] == 0                # its own output
    rc, _, err = cli("golden", image, "--input", x, "-o", y, "--cycles", "--report-json", user_file)
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)
    rj = tmp_path / "r.json"
    assert cli("golden", image, "--input", x, "-o", y, "--cycles", "--report-json", rj)[0] == 0
    assert cli("golden", image, "--input", x, "-o", y, "--cycles", "--report-json", rj)[0] == 0
    assert cli("golden", image, "--input", x, "-o", user_file, "--force")[0] == 0
    assert np.load(user_file).dtype == np.int16


def test_run_refuses_before_starting_the_board(cli, image, x, user_file):
    rc, _, err = cli("run", image, "--port", "sim", "--input", x, "-o", user_file)
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)


def test_sim_refuses_before_any_work(cli, user_dir, capsys):
    rc, out, err = cli("sim", "--simulator", "none", "-o", user_dir)
    _refused(rc, err, user_dir)
    _untouched(user_dir=user_dir)
    assert "training" not in err


def test_report(cli, user_dir, tmp_path):
    rc, _, err = cli("report", "-o", user_dir, "--quick", "--sim-dir", tmp_path / "nosim")
    _refused(rc, err, user_dir)
    _untouched(user_dir=user_dir)
    rc, _, err = cli("report", "-o", tmp_path / "rep", "--quick", "--sim-dir", user_dir)
    _refused(rc, err, user_dir)                  # it would run `eiegen sim` into the user's folder
    _untouched(user_dir=user_dir)
    assert not (tmp_path / "rep").exists()


def test_bench(cli, user_dir):
    rc, _, err = cli("bench", "-o", user_dir, "--quick", "nosuchbench")
    # the unknown name is refused first or the folder is: either way nothing is written
    assert rc == 2
    rc, _, err = cli("bench", "-o", user_dir, "--quick", "eie")
    _refused(rc, err, user_dir)
    _untouched(user_dir=user_dir)


def test_systolic(cli, user_file, tmp_path):
    rc, _, err = cli("systolic", "generate", "--rows", "2", "--cols", "2", "-o", user_file)
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)
    v = tmp_path / "s.v"
    assert cli("systolic", "generate", "--rows", "2", "--cols", "2", "-o", v)[0] == 0
    assert cli("systolic", "generate", "--rows", "2", "--cols", "3", "-o", v)[0] == 0   # its own
    for opt in ("--asm", "--out"):
        rc, _, err = cli("systolic", "run", "--rows", "2", "--cols", "2", "-M", "2", "-K", "2", "-N", "2",
                         opt, user_file)
        _refused(rc, err, user_file)
        _untouched(user_file=user_file)


def test_build_and_swap_refuse_before_the_tools_run(cli, user_dir, user_file, image, tmp_path, monkeypatch):
    import eiegen.boards.build as build_mod
    monkeypatch.setattr(build_mod, "_require_tools", lambda *a: pytest.fail("the build started"))
    rc, _, err = cli("build", "--board", "icebreaker", "-o", user_dir)
    _refused(rc, err, user_dir)
    _untouched(user_dir=user_dir)
    b = tmp_path / "build"
    b.mkdir()
    (b / "build.json").write_text(json.dumps({"format": "eiegen-board-build", "design": "eie",
                                              "family": "ice40", "bitstream": "top.bin",
                                              "config": "top.asc", "params": {}, "rams": []}))
    rc, _, err = cli("swap", b, image, "-o", user_file)
    _refused(rc, err, user_file)
    _untouched(user_file=user_file)
    rc, _, err = cli("swap", b, image, "-o", b / "top.asc")
    assert rc == 2 and "also an input" in err


@pytest.fixture
def user_waves(tmp_path):
    f = tmp_path / "mine.vcd"                # a .vcd name, but not a wave file
    f.write_text("my file")
    return f


def test_waves_over_a_users_file_are_refused_before_any_build(cli, image, x, user_waves, monkeypatch):
    """--waves FILE of sim, run --port sim and systolic run: a file that is not a
    wave file is refused before any simulator is built or started."""
    import eiegen.sim.cocotb_harness as harness
    import eiegen.sw.link.connect as connect
    monkeypatch.setattr(harness, "build", lambda *a, **k: pytest.fail("a simulator build started"))
    monkeypatch.setattr(connect, "open_link", lambda *a, **k: pytest.fail("the board started"))
    for argv in (["sim", "-o", user_waves.parent / "s", "--waves", user_waves],
                 ["run", image, "--port", "sim", "--input", x, "--waves", user_waves],
                 ["systolic", "run", "--rows", "2", "--cols", "2", "-M", "2", "-K", "2", "-N", "2",
                  "--waves", user_waves]):
        rc, _, err = cli(*argv)
        _refused(rc, err, user_waves)
        _untouched(user_file=user_waves)
        assert "training" not in err
    assert not (user_waves.parent / "s").exists()


def test_fit_update_edits_only_a_document_with_the_markers(cli, user_file):
    rc, _, err = cli("fit", "--capacity", "--update", user_file)
    assert rc == 2 and "Traceback" not in err, err
    _untouched(user_file=user_file)


def test_a_file_where_a_folder_should_be_is_named(cli, compressed, image, x, user_file):
    """-o mine.txt/img used to end in a FileExistsError traceback from mkdir."""
    for argv in (["pack", compressed, "-o", user_file / "img", "--pes", "2", "--fit"],
                 ["golden", image, "--input", x, "-o", user_file / "y.npy"]):
        rc, _, err = cli(*argv)
        assert rc == 2 and f"'{user_file}' is a file, not a folder" in err and "Traceback" not in err, err
        _untouched(user_file=user_file)


def test_a_file_system_error_is_one_line(cli, image, tmp_path, monkeypatch):
    import eiegen.sw.commands.decode as decode
    def refuse(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(decode, "atomic_file", refuse)
    rc, _, err = cli("decode", image, "-o", tmp_path / "d.npz")
    assert rc == 2 and err == f"eiegen decode: error: Permission denied: '{tmp_path / 'd.npz'}'\n"


# -- the mechanism ------------------------------------------------------------------------

@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("x")
        with atomic_file(tmp_path / "f.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "d" / "f").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o666 & ~mask


def test_command_outputs_honour_the_umask(cli, compressed, x, tmp_path):
    old = os.umask(0o022)
    try:
        assert cli("pack", compressed, "-o", tmp_path / "img", "--pes", "2", "--fit")[0] == 0
        assert cli("golden", tmp_path / "img", "--input", x, "-o", tmp_path / "y.npy")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "img").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "img" / "manifest.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "y.npy").stat().st_mode) == 0o644


def test_a_failed_replacement_leaves_the_earlier_output(tmp_path):
    with atomic_dir(tmp_path / "d") as d:
        (d / "a").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "d") as d:
            (d / "a").write_text("new")
            raise RuntimeError("half way")
    assert (tmp_path / "d" / "a").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_check_output_kinds(tmp_path):
    f = tmp_path / "y.npy"
    np.save(f, np.zeros(3, np.int16))
    check_output(f, "int16-outputs")
    np.save(f, np.zeros(3))
    with pytest.raises(OutputExistsError, match="is a file that is not an int16 .npy"):
        check_output(f, "int16-outputs")
    with pytest.raises(OutputExistsError, match="is a file that is not"):
        check_output(f, "eie-image")
    check_output(f, "eie-image", force=True)
    link = tmp_path / "link"
    link.symlink_to(f)
    with pytest.raises(OutputExistsError):
        check_output(link, "int16-outputs")


def test_bench_folders_written_before_the_marker_are_recognised(tmp_path):
    d = tmp_path / "bench"
    d.mkdir()
    for name in ("eie.json", "eie_scaling.png", "compress.png", "accuracy.json"):
        (d / name).write_text("x")
    (d / "eie-speed-image-n4").mkdir()
    check_output(d, "bench-output")
    (d / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="is a directory that is not an `eiegen bench` output"):
        check_output(d, "bench-output")
