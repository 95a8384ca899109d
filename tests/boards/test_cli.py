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
