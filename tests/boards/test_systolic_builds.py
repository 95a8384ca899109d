"""Recorded nextpnr reports of the default systolic board builds
(docs/systolic-builds.md has the commands): they parse for their board, use
one DSP per PE plus the requantiser's (every iCEBreaker DSP a MAC), and their
critical path points at repository sources."""

import json
from pathlib import Path

import pytest

from eiegen.boards.board import get_board
from eiegen.boards.report import parse_report, format_report

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]

# fixture -> (board, rows, cols, clock met)
BUILDS = {
    "icebreaker_systolic_4x2_report.json": ("icebreaker", 4, 2, True),
}


def _fixture(name):
    return json.loads((FIXTURES / name).read_text().replace("@REPO@", str(REPO)))


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_systolic_build_report(name):
    board_name, rows, cols, met = BUILDS[name]
    board = get_board(board_name)
    p = board.systolic_params()
    assert (p.rows, p.cols) == (rows, cols), "the fixture is no longer the board's default size"
    r = parse_report(_fixture(name), board)
    assert r.used["dsp"][0] == rows * cols + p.act_dsps
    if board_name == "icebreaker":
        assert r.used["dsp"] == (8, 8) and p.act_dsps == 0
    assert r.target_mhz == pytest.approx(board.systolic_hz / 1e6, rel=1e-4)    # the PLL's clock
    assert r.timing_met == met
    cp = r.critical_path
    assert cp["sources"] and all(not s.startswith("/") for s in cp["sources"])
    assert "critical path" in format_report(r)
