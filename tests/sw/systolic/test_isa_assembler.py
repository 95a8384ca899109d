"""Instruction encoding, assembly text, program checks."""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.isa import Instr, InstrError, decode, encode, parse, format_instr
from eiegen.sw.systolic import Program, ProgramError, QuantError, check_quant


def test_bit_layout():
    w = encode(Instr("MMUL", a=0x1234, b=0xBEEF, n=0x0F0F, flags=1))
    assert w == (3 << 60) | (1 << 56) | (0x1234 << 40) | (0xBEEF << 24) | (0x0F0F << 8)
    assert encode(Instr("SETQ", mult=0xDEADBEEF, shift=47)) == (6 << 60) | (0xDEADBEEF << 24) | 47
    assert encode(Instr("HALT")) == 0xF << 60


def test_roundtrip_text_and_words():
    rng = np.random.default_rng(0)
    instrs = [Instr("NOP"), Instr("HALT"), Instr("RW", a=17), Instr("RHM", a=3, n=9),
              Instr("WHM", a=65535, n=1), Instr("SETQ", mult=2 ** 32 - 1, shift=255)]
    for _ in range(50):
        instrs.append(Instr("MMUL", a=int(rng.integers(65536)), b=int(rng.integers(65536)),
                            n=int(rng.integers(1, 65536)), flags=int(rng.integers(2))))
        instrs.append(Instr("ACT", a=int(rng.integers(65536)), b=int(rng.integers(65536)),
                            n=int(rng.integers(1, 65536)), flags=int(rng.integers(2))))
    for ins in instrs:
        assert decode(encode(ins)) == ins
        assert parse(format_instr(ins)) == ins
    prog = Program(instrs)
    assert Program.from_text(prog.text()).words() == prog.words()
    assert Program.from_words(prog.words()).instrs == instrs


def test_text_form():
    text = """
    # a comment
    RW w=0x10
    MMUL ub=0 acc=64 n=16 accumulate   # trailing comment
    act acc=64 ub=128 n=16 relu
    SETQ mult=300 shift=14
    HALT
    """
    prog = Program.from_text(text)
    assert [str(i) for i in prog] == ["RW w=16", "MMUL ub=0 acc=64 n=16 accumulate",
                                     "ACT acc=64 ub=128 n=16 relu", "SETQ mult=300 shift=14", "HALT"]


@pytest.mark.parametrize("line,msg", [
    ("JUMP 3", "unknown mnemonic"),
    ("MMUL ub=0 acc=0", "missing operand"),
    ("MMUL ub=0 acc=0 n=1 relu", "unexpected operand"),
    ("RW w=70000", "does not fit 16 bits"),
    ("SETQ mult=1 shift=256", "does not fit 8 bits"),
])
def test_text_errors_name_the_line(line, msg):
    with pytest.raises(ProgramError, match=msg) as e:
        Program.from_text("NOP\n" + line, source="prog.s")
    assert "prog.s:2" in str(e.value)


def test_decode_refuses_unknown_opcodes():
    with pytest.raises(InstrError, match="unknown opcode"):
        decode(0x7 << 60)


P = SystolicParams(rows=4, cols=4, ub_depth=100, acc_depth=50, wmem_depth=64, imem_depth=8)


@pytest.mark.parametrize("instrs,msg", [
    ([Instr("MMUL", n=1), Instr("HALT")], "no weight tile"),
    ([Instr("RW"), Instr("RW"), Instr("RW"), Instr("HALT")], "both weight banks"),
    ([Instr("RW", a=61), Instr("HALT")], "weight-memory rows 61..64 do not exist"),
    ([Instr("RW"), Instr("MMUL", a=90, n=11), Instr("HALT")], "unified-buffer rows 90..100"),
    ([Instr("RW"), Instr("MMUL", b=45, n=6), Instr("HALT")], "accumulator rows 45..50"),
    ([Instr("ACT", n=0), Instr("HALT")], "n must be at least 1"),
    ([Instr("SETQ", mult=0), Instr("HALT")], "multiplier 0"),
    ([Instr("NOP")], "no HALT"),
    ([Instr("NOP")] * 9, "holds 8"),
])
def test_check_refuses(instrs, msg):
    with pytest.raises(ProgramError, match=msg):
        Program(instrs).check(P)


def test_check_quant_ranges():
    check_quant(1, 0, P)
    check_quant(65535, 47, P)
    for mult, shift, msg in ((0, 0, "multiplier 0"), (-3, 2, "negative multiplier"),
                             (65536, 0, "does not fit mult_width=16"), (5, 48, "outside 0..47"),
                             (2.5, 1, "integer")):
        with pytest.raises(QuantError, match=msg):
            check_quant(mult, shift, P)


def test_act_lane_field():
    from eiegen.hw.systolic import SystolicParams
    from eiegen.hw.systolic.isa import Instr, decode, encode, parse
    from eiegen.sw.systolic import Program, ProgramError
    i = parse("ACT acc=3 ub=5 n=2 lane=4 relu")
    assert (i.lane, i.relu) == (4, True) and decode(encode(i)) == i
    assert encode(i) & 0xFF == 4
    assert str(parse("ACT acc=3 ub=5 n=2")) == "ACT acc=3 ub=5 n=2"       # lane 0 left out
    assert str(i) == "ACT acc=3 ub=5 n=2 lane=4 relu"
    p = SystolicParams(rows=4, cols=2)
    Program([Instr("ACT", a=0, b=0, n=1, lane=2), Instr("HALT")]).check(p)
    for lane in (1, 4):
        with pytest.raises(ProgramError, match="not a block of 2"):
            Program([Instr("ACT", a=0, b=0, n=1, lane=lane), Instr("HALT")]).check(p)
