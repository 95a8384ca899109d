# amaranth: UnusedElaboratable=no
"""boards/board.py: the registry finds every board module, each board's
platform has the resources the top-level requests, the default unit sizes are
valid, and bad names or parameters are refused with clear errors."""

import pytest

from eiegen.boards.board import (Board, BoardError, get_board, board_names, FAMILY_TOOLS)
from eiegen.hw.common.spram import spram_blocks


def test_registry_lists_the_boards():
    names = board_names()
    assert "icebreaker" in names and "ulx3s" in names
    assert len(names) == len(set(names))
    for n in names:
        b = get_board(n)
        assert isinstance(b, Board) and b.name == n


def test_unknown_board_names_the_known_ones():
    with pytest.raises(BoardError, match=r"unknown board 'nosuch'.*icebreaker.*ulx3s"):
        get_board("nosuch")


@pytest.mark.parametrize("name", ["icebreaker", "ulx3s"])
def test_platform_has_the_resources_the_top_requests(name):
    b = get_board(name)
    plat = b.platform()
    assert b.family in FAMILY_TOOLS
    assert plat.default_clk == b.clock or plat.lookup(b.clock, 0)
    assert plat.lookup(b.clock, 0).clock.frequency == pytest.approx(b.clock_hz)
    uart = plat.lookup(b.uart, 0)
    assert {s.name for s in uart.ios} >= {"rx", "tx"}
    for led, idx in b.leds:
        plat.lookup(led, idx)
    assert b.leds, "a board needs at least one status LED"


def test_device_figures():
    ice = get_board("icebreaker")
    assert (ice.resources.logic, ice.resources.dsp, ice.resources.bram, ice.resources.spram) == (5280, 8, 30, 4)
    assert ice.platform.device == "iCE40UP5K"
    ulx = get_board("ulx3s")
    assert ulx.platform.device == "LFE5U-85F"
    assert (ulx.resources.logic, ulx.resources.dsp, ulx.resources.bram) == (83640, 156, 208)


def test_default_params_and_overrides():
    ice = get_board("icebreaker")
    p = ice.eie_params()
    # the sparse-matrix memory of one PE is exactly one SPRAM on the UP5K
    assert spram_blocks(p.spmat_width, p.spmat_depth) == 1
    assert ice.in_spram("pe00_spmat") and ice.in_spram("pe03_spmat")
    assert not ice.in_spram("pe00_ptr_even") and not ice.in_spram(None)
    assert ice.eie_params(n_pes=4).n_pes == 4
    assert ice.eie_params(n_pes=None).n_pes == p.n_pes       # None = keep the default
    s = get_board("ulx3s").systolic_params(rows=4, cols=None)
    assert (s.rows, s.cols) == (4, get_board("ulx3s").systolic["cols"])


def test_bad_params_are_refused_naming_the_board():
    with pytest.raises(BoardError, match=r"board 'icebreaker': EIE parameters: n_pes"):
        get_board("icebreaker").eie_params(n_pes=0)
    with pytest.raises(BoardError, match=r"board 'ulx3s': systolic parameters"):
        get_board("ulx3s").systolic_params(rows=0)
