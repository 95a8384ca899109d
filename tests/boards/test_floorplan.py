"""The EIE array's floorplan (boards/floorplan.py): each PE's block RAMs in
one group of adjacent sites, its multiplier in the DSP row nearest them and
in the same tile columns, every site used once; applied to a netlist by cell
name, refusing a PE with more cells than sites; the build's nextpnr wrapper."""

import json
import os
import re
import subprocess

import pytest

from eiegen.boards.board import get_board
from eiegen.boards.floorplan import (eie_rules, apply, prepare, pe_blocks, FloorplanError, FLOORPLAN_FILE,
                                    OTHER_GROUPS)

ULX3S = get_board("ulx3s")


def _xy(bel):
    x, y = re.match(r"X(\d+)/Y(\d+)/", bel).groups()
    return int(x), int(y)


def test_default_ulx3s_array_one_group_a_pe():
    params = ULX3S.eie_params()
    assert pe_blocks(ULX3S, params) == 4             # sparse matrix, two pointer blocks, activations
    rules = eie_rules(ULX3S, params, 4)
    assert len(rules) == 2 * params.n_pes + len(OTHER_GROUPS)
    sites = [s for r in rules for s in r["sites"]]
    assert len(sites) == len(set(sites))
    by_pe = {}
    for r in rules:
        if r["prefix"].startswith("unit.pe"):
            by_pe.setdefault(r["prefix"], {})[r["type"]] = r["sites"]
    groups = {g for row in ULX3S.bram_sites.rows for g in row}

    others = rules[2 * params.n_pes:]
    assert [r["prefix"] for r in others] == ["unit.control.", "link."]
    assert all(tuple(r["sites"]) in groups and r["type"] == "DP16KD" for r in others)
    assert list(by_pe) == [f"unit.pe{k}." for k in range(params.n_pes)]
    for prefix, kinds in by_pe.items():
        ebr, (mult,) = kinds["DP16KD"], kinds["MULT18X18D"]
        assert tuple(ebr) in groups, prefix
        (x0, y0), (x1, y1) = _xy(ebr[0]), _xy(mult)
        # the multiplier sits in the same tile columns, in the nearest DSP row (12 or 24 rows away)
        assert x0 <= x1 <= x0 + 6 and abs(y1 - y0) <= 24, (prefix, ebr, mult)
    # compact: the PEs' groups are the ones nearest the centre of the die
    xs = [_xy(r["sites"][0])[0] for r in rules if r["type"] == "DP16KD"]
    assert max(xs) - min(xs) < 120


def test_consecutive_pes_side_by_side():
    rules = [r for r in eie_rules(ULX3S, ULX3S.eie_params(), 4)
             if r["type"] == "DP16KD" and r["prefix"].startswith("unit.pe")]
    for a, b in zip(rules, rules[1:]):
        (xa, ya), (xb, yb) = _xy(a["sites"][0]), _xy(b["sites"][0])
        # the next group of the row, or past the centre's groups the link and layer table took
        assert ya < yb or (ya == yb and xb - xa in (9, 11, 20, 29)), (a, b)


@pytest.mark.parametrize("n", [1, 4, 8, 50])
def test_sizes_that_fit(n):
    rules = eie_rules(ULX3S, ULX3S.eie_params(n_pes=n), 4)
    assert len(rules) == 2 * n + len(OTHER_GROUPS)


def test_three_blocks_a_pe_64_pes():
    # ptr_depth 512: both pointer banks in one block RAM, 3 a PE; the PEs take runs
    # of 3 adjacent sites along a row beside the 2 central groups
    params = ULX3S.eie_params(n_pes=64, ptr_depth=512)
    assert pe_blocks(ULX3S, params) == 3
    rules = eie_rules(ULX3S, params, 3)
    assert len(rules) == 2 * 64 + len(OTHER_GROUPS)
    sites = [s for r in rules for s in r["sites"]]
    assert len(sites) == len(set(sites)) == 64 * 4 + 8
    central = {s for r in rules[128:] for s in r["sites"]}
    for r in rules[:128]:
        if r["type"] == "DP16KD":
            (x0, y0), (x2, y2) = _xy(r["sites"][0]), _xy(r["sites"][-1])
            assert len(r["sites"]) == 3 and y0 == y2 and 4 <= x2 - x0 <= 9, r   # side by side
            assert not central & set(r["sites"])
        else:
            (xm, ym), = [_xy(r["sites"][0])]
            assert abs(xm - x0) <= 9 and abs(ym - y0) <= 24, (r, x0, y0)


def test_no_floorplan_where_it_does_not_fit_or_no_sites():
    assert eie_rules(ULX3S, ULX3S.eie_params(n_pes=51), 4) == []     # 52 groups of four, 2 not the PEs'
    assert eie_rules(ULX3S, ULX3S.eie_params(), 5) == []              # a PE needs more than a group
    ice = get_board("icebreaker")
    assert eie_rules(ice, ice.eie_params(), 4) == []                  # no sites known


def _netlist(cells):
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": {
        name: {"type": kind, "attributes": {}} for name, kind in cells}}}}


def test_apply_places_cells_in_name_order():
    rules = [{"prefix": "unit.pe1.", "type": "DP16KD", "sites": ["A", "B", "C"]},
             {"prefix": "unit.pe1.", "type": "MULT18X18D", "sites": ["M"]}]
    net = _netlist([("unit.pe1.spmat.mem.0.0", "DP16KD"), ("unit.pe1.act.mem.0.0", "DP16KD"),
                    ("unit.pe10.act.mem.0.0", "DP16KD"), ("unit.pe1.arith.mult", "MULT18X18D"),
                    ("unit.pe1.x", "TRELLIS_FF")])
    assert apply(net, rules) == 3
    cells = net["modules"]["top"]["cells"]
    assert cells["unit.pe1.act.mem.0.0"]["attributes"]["BEL"] == "A"
    assert cells["unit.pe1.spmat.mem.0.0"]["attributes"]["BEL"] == "B"
    assert cells["unit.pe1.arith.mult"]["attributes"]["BEL"] == "M"
    assert "BEL" not in cells["unit.pe10.act.mem.0.0"]["attributes"]        # another PE
    assert "BEL" not in cells["unit.pe1.x"]["attributes"]


def test_apply_refuses_more_cells_than_sites():
    net = _netlist([(f"unit.pe3.m.{i}", "DP16KD") for i in range(3)])
    with pytest.raises(FloorplanError, match=r"unit\.pe3 2 DP16KD site\(s\), the netlist has 3"):
        apply(net, [{"prefix": "unit.pe3.", "type": "DP16KD", "sites": ["A", "B"]}])


def test_build_wrapper_applies_the_floorplan_then_runs_nextpnr(tmp_path):
    params = ULX3S.eie_params(n_pes=2)
    # stands in for nextpnr: records its arguments
    env = {"NEXTPNR_ECP5": "echo", "PATH": os.environ["PATH"]}
    run_env, n = prepare(tmp_path, ULX3S, params, env, "top")
    assert n == 4 + len(OTHER_GROUPS) and run_env["NEXTPNR_ECP5"] != "echo" and env["NEXTPNR_ECP5"] == "echo"
    rules = json.loads((tmp_path / FLOORPLAN_FILE).read_text())
    (tmp_path / "top.json").write_text(json.dumps(_netlist([("unit.pe0.spmat.mem.0.0", "DP16KD"),
                                                            ("unit.pe1.arith.mult", "MULT18X18D")])))
    r = subprocess.run([run_env["NEXTPNR_ECP5"], "--json", "top.json"], cwd=tmp_path, env=run_env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "--json top.json"
    cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    assert cells["unit.pe0.spmat.mem.0.0"]["attributes"]["BEL"] == rules[0]["sites"][0]
    assert cells["unit.pe1.arith.mult"]["attributes"]["BEL"] == rules[3]["sites"][0]


def test_build_wrapper_fails_on_a_netlist_it_cannot_place(tmp_path):
    env = {"NEXTPNR_ECP5": "echo", "PATH": os.environ["PATH"]}
    run_env, _ = prepare(tmp_path, ULX3S, ULX3S.eie_params(n_pes=1), env, "top")
    (tmp_path / "top.json").write_text(json.dumps(_netlist([(f"unit.pe0.m.{i}", "DP16KD") for i in range(5)])))
    r = subprocess.run([run_env["NEXTPNR_ECP5"]], cwd=tmp_path, env=run_env, capture_output=True, text=True)
    assert r.returncode != 0 and "unit.pe0 4 DP16KD site(s), the netlist has 5" in r.stderr
    assert "--json" not in r.stdout                                  # nextpnr did not run


def test_no_wrapper_without_a_floorplan(tmp_path):
    ice = get_board("icebreaker")
    env = {"NEXTPNR_ICE40": "x"}
    assert prepare(tmp_path, ice, ice.eie_params(), env) == (env, 0)
    assert list(tmp_path.iterdir()) == []


class _Stop(Exception):
    pass


@pytest.mark.parametrize("alone", [False, True])
def test_ulx3s_eie_builds_run_nextpnr_through_the_floorplan(alone, tmp_path, monkeypatch):
    """`eiegen build` (board top, and --alone) writes the floorplan and runs
    the tools with the wrapper as nextpnr (the tools themselves: stopped here)."""
    from eiegen.boards import build as build_mod, standalone
    seen = {}

    def fake_run(build_dir, name, board, env, progress, **kw):
        seen["dir"], seen["env"] = build_dir, env
        seen["rules"] = json.loads((build_dir / FLOORPLAN_FILE).read_text())
        raise _Stop()

    monkeypatch.setattr(build_mod, "_run_script", fake_run)
    monkeypatch.setattr(standalone, "_run_script", fake_run)
    params = ULX3S.eie_params(n_pes=2)
    with pytest.raises(_Stop):
        if alone:
            standalone.build_standalone(ULX3S, params, out_dir=tmp_path / "b", progress=None)
        else:
            build_mod.build(ULX3S, "eie", params, out_dir=tmp_path / "b", progress=None)
    assert seen["env"]["NEXTPNR_ECP5"].endswith("nextpnr-floorplan.sh")
    assert seen["rules"] == eie_rules(ULX3S, params, 4)
