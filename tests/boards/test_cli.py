# amaranth: UnusedElaboratable=no
"""sw/commands/build.py and swap.py: argument handling and exit codes, without
running the tools (boards.build.build is replaced where a build would start)."""

import json

import numpy as np
import pytest

import eiegen.boards.build as build_mod
from eiegen.boards.report import TimingError
from eiegen.sim.testdata import random_compressed_model
from eiegen.sw.cli import main
from eiegen.sw.image import write_image
from eiegen.sw.packer import pack
from eiegen.boards.board import get_board


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_build(board, design, params, **kw):
        seen.append((board.name, design, params, kw))
        raise TimingError("ulx3s eie: timing not met on clock 'clk': Fmax 20.00 MHz < target 25.00 MHz")
    monkeypatch.setattr(build_mod, "build", fake_build)
    return seen


def test_timing_failure_exits_non_zero_with_the_message(calls, capsys):
    assert main(["build", "--board", "ulx3s", "--pes", "3"]) == 2
    err = capsys.readouterr().err
    assert "eiegen build: error:" in err and "Fmax 20.00 MHz < target 25.00 MHz" in err
    (board, design, params, kw), = calls
    assert (board, design, params.n_pes) == ("ulx3s", "eie", 3)
    assert params.spmat_depth == get_board("ulx3s").eie["spmat_depth"]


def test_systolic_size_and_clock(calls):
    assert main(["build", "--board", "icebreaker", "--design", "systolic", "--pes", "2",
                 "--cols", "3", "--freq", "18"]) == 2
    (_, design, params, kw), = calls
    assert design == "systolic" and (params.rows, params.cols) == (2, 3)
    assert kw["sync_hz"] == 18e6


def test_image_sets_the_parameters(calls, tmp_path):
    board = get_board("icebreaker")
    p = board.eie_params(act_depth=32)
    img = write_image(pack(random_compressed_model(np.random.default_rng(1), [20, 12], 0.4), p),
                      tmp_path / "img")
    assert main(["build", "--board", "icebreaker", "--image", str(img)]) == 2
    (_, _, params, kw), = calls
    assert params.image_dict() == p.image_dict() and kw["image"] is not None


@pytest.mark.parametrize("argv, msg", [
    (["--design", "systolic", "--image", "x"], "--image bakes an EIE image"),
    (["--design", "systolic", "--spmat-depth", "64"], "--spmat-depth is an EIE parameter"),
    (["--rows", "2"], "--rows/--cols are for --design systolic"),
    (["--pes", "0"], "argument --pes: must be 1..64, got 0"),
    (["--pes", "65"], "argument --pes: must be 1..64, got 65"),
    (["--design", "systolic", "--pes", "40"], "board 'icebreaker': systolic parameters: systolic parameter rows"),
])
def test_bad_arguments(calls, capsys, argv, msg):
    assert main(["build", "--board", "icebreaker", *argv]) == 2
    assert msg in capsys.readouterr().err
    assert calls == []


def test_unknown_board_is_an_argparse_error(capsys):
    assert main(["build", "--board", "nosuch"]) == 2
    assert "icebreaker" in capsys.readouterr().err


def test_swap_needs_a_build_folder(tmp_path, capsys):
    assert main(["swap", str(tmp_path), str(tmp_path)]) == 2
    assert "no build.json" in capsys.readouterr().err
    (tmp_path / "build.json").write_text(json.dumps({"format": "eiegen-board-build", "design": "systolic"}))
    assert main(["swap", str(tmp_path), str(tmp_path)]) == 2
    assert "only EIE builds take an image" in capsys.readouterr().err


def test_alone_builds_the_array_alone(monkeypatch, capsys):
    import eiegen.boards.standalone as standalone_mod
    seen = []

    def fake_standalone(board, params, **kw):
        seen.append((board.name, params, kw))
        raise TimingError("icebreaker EIE array alone: timing not met on clock 'clk': Fmax 20.00 MHz "
                          "< target 30.00 MHz")
    monkeypatch.setattr(standalone_mod, "build_standalone", fake_standalone)
    monkeypatch.setattr(build_mod, "build", lambda *a, **k: pytest.fail("a board build was started"))
    assert main(["build", "--board", "icebreaker", "--alone", "--pes", "4", "--act-depth", "32",
                 "--freq", "30"]) == 2
    assert "Fmax 20.00 MHz < target 30.00 MHz" in capsys.readouterr().err
    (board, params, kw), = seen
    assert (board, params.n_pes, params.act_depth, kw["sync_hz"]) == ("icebreaker", 4, 32, 30e6)
    # the board's other parameters (its pipeline) stay
    assert params.queue_slots == get_board("icebreaker").eie["queue_slots"]


@pytest.mark.parametrize("argv, msg", [
    (["--design", "systolic"], "--alone builds the EIE array alone"),
    (["--design", "link"], "--alone builds the EIE array alone"),
    (["--report-image", "x"], "--alone measures the array"),
])
def test_alone_refuses_what_it_cannot_build(monkeypatch, capsys, argv, msg):
    import eiegen.boards.standalone as standalone_mod
    monkeypatch.setattr(standalone_mod, "build_standalone", lambda *a, **k: pytest.fail("built"))
    assert main(["build", "--board", "icebreaker", "--alone", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
