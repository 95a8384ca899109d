"""sw/bench/systolic.py: inferences per second of the default systolic board
builds (cycle model x clock), and the unit-alone board top elaborates."""

import pytest

from eiegen.boards.board import get_board
from eiegen.sw.bench.systolic import NETWORKS, UnitProbeTop, board_inferences
from eiegen.sw.systolic.compare import dense_report


def test_board_inferences_are_cycle_model_times_clock():
    rows = board_inferences(batches=(1, 8))
    assert {(r["board"], r["network"], r["batch"]) for r in rows} == \
        {(b, n, k) for b in ("icebreaker", "ulx3s") for n in NETWORKS for k in (1, 8)}
    for r in rows:
        p = get_board(r["board"]).systolic_params()
        rep = dense_report(NETWORKS[r["network"]], p.rows, p.cols, r["batch"], acc_depth=p.acc_depth,
                           act_lanes=p.act_lanes, act_serial=p.act_serial)
        assert r["cycles"] == rep.cycles
        assert r["clock_mhz"] == pytest.approx(get_board(r["board"]).design_hz("systolic") / 1e6)
        assert r["inferences_per_s"] == pytest.approx(r["clock_mhz"] * 1e6 * r["batch"] / rep.cycles)
        assert 0 < r["util"] <= 1
    fit = {(r["board"], r["network"]): r["weights_fit"] for r in rows}
    assert fit["ulx3s", "make sim MLP 64-128-64-10"] == "yes"
    assert fit["icebreaker", "LeNet-300-100 784-300-100-10"] != "yes"
    # a measured clock instead of the build's
    r = board_inferences(boards=("ulx3s",), batches=(1,), clocks={"ulx3s": 100e6})[0]
    assert r["clock_mhz"] == 100.0


def test_unit_probe_top_elaborates():
    from amaranth.back import rtlil
    from eiegen.boards.build import board_platform
    board = get_board("icebreaker")
    top = UnitProbeTop(board, board.systolic_params(), 24e6)
    platform = board_platform(board)
    plan = platform.prepare(top, name="top")
    assert top.sync_hz == 24e6
    assert plan is not None
