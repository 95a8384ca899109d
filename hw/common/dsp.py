"""Registered multipliers in a part's DSP block, where Yosys does not put them.

Yosys maps a multiply on the ECP5 to a MULT18X18D without any of its
registers (synth_ecp5 has no pass that absorbs flip-flops into the DSP, as
ice40_dsp does for the SB_MAC16), so a multiply between two registers
becomes slice flip-flop -> route -> combinational multiplier -> route ->
slice flip-flop: about 10.7 ns on the LFE5U-85F-6, most of it routing to
and from the DSP column. With the block's input and output registers the
multiplier is timed inside the DSP and only register-to-register routes
remain.

`registered_product(m, platform, a, b)` returns the product a * b (signed,
len(a) + len(b) bits) two cycles after a and b: the operands into input
registers at the end of cycle t, the product into an output register at
the end of t + 1, readable at t + 2 — the same timing as

    a_q, b_q = a, b          (sync)
    p = a_q * b_q            (sync)

which it returns (as `None`) to the caller to build when the platform has no
such primitive: `platform.eiegen_dsp` names it ("MULT18X18D" on the ECP5
board platforms, boards/build.py; absent in simulation). The registers have
no reset, like the behavioural form's reset-less registers; the input
registers may have an enable (`en`).

`site` places the block: a BEL name of the device (nextpnr's `BEL`
attribute fixes the cell there). A board that knows its device's DSP sites
gives them as `platform.eiegen_dsp_sites` (hw/common/sites.py), and an array
that floorplans its multipliers (hw/systolic/floorplan.py) picks sites from it.
"""

from amaranth import Instance, ClockSignal, Signal, Const, signed

__all__ = ["registered_product", "dsp_input_registers", "MULT18X18D_WIDTH"]

#: operand width of the ECP5 MULT18X18D (two's complement when SIGNEDx = 1)
MULT18X18D_WIDTH = 18


def dsp_input_registers(platform):
    """Whether registered_product on `platform` puts the operands' registers
    inside the DSP block (else it returns None and the caller builds them)."""
    return getattr(platform, "eiegen_dsp", None) is not None


def registered_product(m, platform, a, b, *, en=None, name="mult", site=None):
    """The product of signed `a` and `b` from the platform's DSP block with
    input and output registers (latency 2), or None when the platform has none.
    `en`: the input registers load only when it is high (the behavioural form's
    `with m.If(en): a_q.eq(a), b_q.eq(b)`); the output register loads every cycle.
    `site`: the BEL the block is placed at (None: where the placer likes)."""
    if not dsp_input_registers(platform):
        return None
    kind = platform.eiegen_dsp
    if kind != "MULT18X18D":
        raise ValueError(f"unknown DSP primitive {kind!r} (platform.eiegen_dsp)")
    W = MULT18X18D_WIDTH
    if not (a.shape().signed and b.shape().signed):
        raise ValueError("registered_product multiplies signed operands")
    if len(a) > W or len(b) > W:
        raise ValueError(f"a {len(a)} x {len(b)}-bit multiply does not fit one MULT18X18D "
                         f"({W} x {W} bits)")
    a_ext = Signal(signed(W), name=f"{name}_a")
    b_ext = Signal(signed(W), name=f"{name}_b")
    m.d.comb += [a_ext.eq(a), b_ext.eq(b)]    # sign-extended
    p_full = Signal(2 * W, name=f"{name}_p")
    ports = {}
    for i in range(W):
        ports[f"i_A{i}"] = a_ext[i]
        ports[f"i_B{i}"] = b_ext[i]
        ports[f"i_C{i}"] = Const(0, 1)
    for i in range(2 * W):
        ports[f"o_P{i}"] = p_full[i]
    if site is not None:
        ports["a_BEL"] = site
    m.submodules[name] = Instance(
        "MULT18X18D",
        # input registers A and B (enable CE0), and the output register
        # (enable CE1, always on), on CLK0; no pipeline register (the
        # multiplier array sits between the two)
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
        p_REG_INPUTB_CLK="CLK0", p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
        p_REG_INPUTC_CLK="NONE",
        p_REG_PIPELINE_CLK="NONE",
        p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE1", p_REG_OUTPUT_RST="RST0",
        p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED", p_CLK3_DIV="ENABLED",
        p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED", p_CAS_MATCH_REG="FALSE",
        p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED", p_RESETMODE="SYNC",
        i_SIGNEDA=Const(1, 1), i_SIGNEDB=Const(1, 1),
        i_SOURCEA=Const(0, 1), i_SOURCEB=Const(0, 1),
        i_CLK0=ClockSignal("sync"), i_CLK1=Const(0, 1), i_CLK2=Const(0, 1), i_CLK3=Const(0, 1),
        i_CE0=Const(1, 1) if en is None else en, i_CE1=Const(1, 1), i_CE2=Const(0, 1), i_CE3=Const(0, 1),
        i_RST0=Const(0, 1), i_RST1=Const(0, 1), i_RST2=Const(0, 1), i_RST3=Const(0, 1),
        **ports,
    )
    p = Signal(signed(len(a) + len(b)), name=f"{name}_prod")
    m.d.comb += p.eq(p_full[:len(a) + len(b)])
    return p
