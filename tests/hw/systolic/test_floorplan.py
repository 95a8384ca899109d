"""The systolic array's multiplier floorplan (hw/systolic/floorplan.py): each
PE on its own DSP site of the board's device, grid neighbours next to each
other on the die, and no floorplan where the grid does not fit."""

import re

import pytest
from amaranth.back import rtlil

from eiegen.boards.board import get_board
from eiegen.hw.common.sites import Sites, ecp5_dsp_sites
from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.array import SystolicArray
from eiegen.hw.systolic.floorplan import pe_sites

SITES = get_board("ulx3s").dsp_sites


def _xy(bel):
    x, y, _ = re.fullmatch(r"X(\d+)/Y(\d+)/(MULT18_\d)", bel).groups()
    return int(x), int(y)


def test_ulx3s_sites_are_the_devices_156_multipliers():
    names = [s for row in SITES.rows for g in row for s in g]
    assert len(names) == len(set(names)) == get_board("ulx3s").resources.dsp == 156
    assert (SITES.groups_per_row, SITES.group_size, len(SITES.rows)) == (13, 4, 3)
    # a group is two DSP tiles side by side: MULT18_0/1 at x, x + 1, MULT18_4/5 at x + 4, x + 5
    assert SITES.rows[0][0] == ("X4/Y10/MULT18_0", "X5/Y10/MULT18_1", "X8/Y10/MULT18_4", "X9/Y10/MULT18_5")


@pytest.mark.parametrize("rows,cols", [(12, 12), (8, 8), (4, 4), (2, 4), (12, 13), (3, 1)])
def test_every_pe_a_site_and_neighbours_close(rows, cols):
    plan = pe_sites(rows, cols, SITES)
    assert set(plan) == {(r, c) for r in range(rows) for c in range(cols)}
    assert len(set(plan.values())) == rows * cols          # one multiplier each
    for (r, c), bel in plan.items():
        x, y = _xy(bel)
        if c + 1 < cols:
            # activations move right: the next group of the same DSP row
            x2, y2 = _xy(plan[(r, c + 1)])
            assert y2 == y and 0 < x2 - x <= 11, (r, c, bel, plan[(r, c + 1)])
        if r + 1 < rows:
            # partial sums and weights move down: the same group, or its place in the next DSP row
            x2, y2 = _xy(plan[(r + 1, c)])
            assert (y2 == y and 0 < x2 - x <= 4) or (0 < y2 - y <= 24 and abs(x2 - x) <= 5), \
                (r, c, bel, plan[(r + 1, c)])


def test_small_arrays_use_few_dsp_rows():
    assert {_xy(b)[1] for b in pe_sites(4, 4, SITES).values()} == {34}
    assert {_xy(b)[1] for b in pe_sites(8, 8, SITES).values()} == {10, 34}
    assert {_xy(b)[1] for b in pe_sites(12, 12, SITES).values()} == {10, 34, 58}


@pytest.mark.parametrize("rows,cols", [(13, 12), (12, 14), (4, 20)])
def test_no_floorplan_where_the_grid_does_not_fit(rows, cols):
    assert pe_sites(rows, cols, SITES) == {}


def test_no_floorplan_without_sites():
    assert pe_sites(4, 4, None) == {}
    assert pe_sites(2, 2, Sites(())) == {}


def test_ecp5_site_names():
    s = ecp5_dsp_sites((7,), (3,))
    assert s.rows == ((("X3/Y7/MULT18_0", "X4/Y7/MULT18_1", "X7/Y7/MULT18_4", "X8/Y7/MULT18_5"),),)


class _ECP5Platform:
    eiegen_dsp = "MULT18X18D"
    eiegen_dsp_sites = SITES


def _bels(platform, rows, cols):
    text = rtlil.convert(SystolicArray(SystolicParams(rows=rows, cols=cols)), name="arr", platform=platform)
    return re.findall(r'attribute \\BEL "([^"]+)"\n\s*cell \\MULT18X18D', text)


def test_array_places_its_multipliers_at_the_floorplans_sites():
    bels = _bels(_ECP5Platform(), 2, 3)
    assert sorted(bels) == sorted(pe_sites(2, 3, SITES).values())


def test_no_placement_attribute_without_sites():
    class NoSites:
        eiegen_dsp = "MULT18X18D"
    assert _bels(NoSites(), 2, 3) == []
    assert _bels(None, 2, 3) == []
