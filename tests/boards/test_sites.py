"""The hard-block sites a board claims for its floorplans (boards/<board>.py
`dsp_sites`, `bram_sites`) are the device's: nextpnr places a cell at every
one of them, each where its `BEL` attribute says (a netlist of one DP16KD per
block RAM site and one MULT18X18D per DSP site, placed, not routed; a few
seconds)."""

import json
import os
import subprocess

import pytest

from eiegen.boards.board import get_board, board_names
from eiegen.sw import toolchain

BOARDS = [n for n in board_names() if get_board(n).dsp_sites is not None or get_board(n).bram_sites is not None]


def test_a_board_with_sites_is_there():
    assert "ulx3s" in BOARDS


@pytest.mark.parametrize("name", BOARDS)
def test_every_site_is_placed_where_its_bel_says(name, tmp_path):
    board = get_board(name)
    assert board.family == "ecp5"
    env = toolchain.configure(dict(os.environ))
    ebr = board.bram_sites.names() if board.bram_sites else []
    dsp = board.dsp_sites.names() if board.dsp_sites else []
    assert len(ebr) == len(set(ebr)) == board.resources.bram
    assert len(dsp) == len(set(dsp)) == board.resources.dsp
    n = len(ebr) + len(dsp)
    v = ["module top(input clk, input [2:0] a, output y);", f"  wire [{n - 1}:0] q;", "  assign y = ^q;"]
    v += [f'  (* BEL="{s}" *) DP16KD e{i} (.CLKA(clk), .ADA4(a[0]), .DOA0(q[{i}]));' for i, s in enumerate(ebr)]
    v += [f'  (* BEL="{s}" *) MULT18X18D m{i} (.A0(a[1]), .B0(a[2]), .P0(q[{len(ebr) + i}]));'
          for i, s in enumerate(dsp)]
    (tmp_path / "sites.v").write_text("\n".join(v + ["endmodule"]) + "\n")
    subprocess.run([env["YOSYS"], "-q", "-p", "read_verilog sites.v; synth_ecp5 -top top; write_json sites.json"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    platform = board.platform()         # nextpnr's device and package options, as amaranth gives them
    r = subprocess.run([env["NEXTPNR_ECP5"], platform._nextpnr_device_options[platform.device],
                        "--package", platform._nextpnr_package_options[platform.package].upper(),
                        "--json", "sites.json", "--no-route", "--write", "placed.json", "-q"],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    cells = json.loads((tmp_path / "placed.json").read_text())["modules"]["top"]["cells"]
    want = {f"e{i}": s for i, s in enumerate(ebr)} | {f"m{i}": s for i, s in enumerate(dsp)}
    got = {k: cells[k]["attributes"]["NEXTPNR_BEL"] for k in want}
    assert got == want
