"""Instruction set of the systolic unit's sequencer (plain Python, no Amaranth).

Every instruction is one 64-bit word (docs/systolic.md, "Instruction set"):

    [63:60] opcode   [59:56] flags   [55:40] A   [39:24] B   [23:8] N   [7:0] L

L is 0 except for ACT (its first unified-buffer lane); SETQ's [55:24] is the
32-bit multiplier and [7:0] the shift.

    NOP                          nothing
    RHM  ub=A n=N                Read_Host_Memory: pause until the host has written
                                 unified-buffer rows A..A+N-1 (it sets `resume`)
    RW   w=A                     Read_Weights: load the tile in weight-memory rows
                                 A..A+R-1 into the array's free (shadow) weight bank
    MMUL ub=A acc=B n=N [accumulate]
                                 stream unified-buffer rows A..A+N-1 through the array
                                 with the oldest loaded tile, into accumulator rows
                                 B..B+N-1, adding (flag 0 set) or overwriting
    ACT  acc=A ub=B n=N [lane=L] [relu]
                                 accumulator rows A..A+N-1 -> ReLU (flag 0) ->
                                 requantise (SETQ) -> unified-buffer rows B..B+N-1,
                                 lanes L..L+C-1 (L a multiple of C; default 0)
    WHM  ub=A n=N                Write_Host_Memory: pause until the host has read
                                 unified-buffer rows A..A+N-1 (it sets `resume`)
    SETQ mult=M shift=S          the requantisation of the following ACTs
    HALT                         wait until everything has finished, then `done`
"""

import dataclasses
import re

__all__ = ["OP", "OPNAMES", "FLAG_ACCUMULATE", "FLAG_RELU", "Instr", "encode", "decode",
           "parse", "format_instr"]

OP = {
    "NOP": 0x0,
    "RHM": 0x1,
    "RW": 0x2,
    "MMUL": 0x3,
    "ACT": 0x4,
    "WHM": 0x5,
    "SETQ": 0x6,
    "HALT": 0xF,
}
OPNAMES = {v: k for k, v in OP.items()}

FLAG_ACCUMULATE = 1    # MMUL: add into the accumulators (else overwrite)
FLAG_RELU = 1          # ACT: ReLU before requantisation

# field positions (lsb, width)
F_OP = (60, 4)
F_FLAGS = (56, 4)
F_A = (40, 16)
F_B = (24, 16)
F_N = (8, 16)
F_MULT = (24, 32)      # SETQ
F_SHIFT = (0, 8)       # SETQ
F_LANE = (0, 8)        # ACT

# which operand names each opcode uses, in text order, and the field they sit in
OPERANDS = {
    "NOP": (),
    "HALT": (),
    "RHM": (("ub", "a"), ("n", "n")),
    "WHM": (("ub", "a"), ("n", "n")),
    "RW": (("w", "a"),),
    "MMUL": (("ub", "a"), ("acc", "b"), ("n", "n")),
    "ACT": (("acc", "a"), ("ub", "b"), ("n", "n"), ("lane", "lane")),
    "SETQ": (("mult", "mult"), ("shift", "shift")),
}
FLAG_WORDS = {"MMUL": "accumulate", "ACT": "relu"}
#: operands that may be left out of the text form (value 0), and are not written when 0
OPTIONAL = {"lane"}


class InstrError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Instr:
    op: str
    a: int = 0
    b: int = 0
    n: int = 0
    flags: int = 0
    mult: int = 0
    shift: int = 0
    lane: int = 0

    def __post_init__(self):
        if self.op not in OP:
            raise InstrError(f"unknown opcode {self.op!r}; known: {', '.join(OP)}")
        for name, (lsb, width) in (("a", F_A), ("b", F_B), ("n", F_N), ("flags", F_FLAGS),
                                   ("mult", F_MULT), ("shift", F_SHIFT), ("lane", F_LANE)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < (1 << width):
                raise InstrError(f"{self.op}: field {name}={v!r} does not fit {width} bits")

    @property
    def accumulate(self):
        return self.op == "MMUL" and bool(self.flags & FLAG_ACCUMULATE)

    @property
    def relu(self):
        return self.op == "ACT" and bool(self.flags & FLAG_RELU)

    def encode(self):
        return encode(self)

    def __str__(self):
        return format_instr(self)


def _put(word, field, value):
    lsb, width = field
    return word | ((value & ((1 << width) - 1)) << lsb)


def _get(word, field):
    lsb, width = field
    return (word >> lsb) & ((1 << width) - 1)


def encode(ins):
    w = _put(0, F_OP, OP[ins.op])
    if ins.op == "SETQ":
        w = _put(w, F_MULT, ins.mult)
        return _put(w, F_SHIFT, ins.shift)
    w = _put(w, F_FLAGS, ins.flags)
    w = _put(w, F_A, ins.a)
    w = _put(w, F_B, ins.b)
    w = _put(w, F_N, ins.n)
    return _put(w, F_LANE, ins.lane) if ins.op == "ACT" else w


def decode(word):
    word = int(word)
    if not 0 <= word < (1 << 64):
        raise InstrError(f"instruction word {word:#x} is not 64 bits")
    code = _get(word, F_OP)
    if code not in OPNAMES:
        raise InstrError(f"instruction word {word:#018x}: unknown opcode {code:#x}")
    op = OPNAMES[code]
    if op == "SETQ":
        return Instr(op, mult=_get(word, F_MULT), shift=_get(word, F_SHIFT))
    return Instr(op, a=_get(word, F_A), b=_get(word, F_B), n=_get(word, F_N),
                 flags=_get(word, F_FLAGS), lane=_get(word, F_LANE) if op == "ACT" else 0)


def format_instr(ins):
    parts = [ins.op]
    for name, field in OPERANDS[ins.op]:
        if name in OPTIONAL and not getattr(ins, field):
            continue
        parts.append(f"{name}={getattr(ins, field)}")
    if ins.op in FLAG_WORDS and ins.flags & 1:
        parts.append(FLAG_WORDS[ins.op])
    return " ".join(parts)


_TOKEN = re.compile(r"^([a-z]+)=(0x[0-9a-fA-F_]+|0b[01_]+|[0-9_]+)$")


def parse(line):
    """Parse one line of assembly text (see format_instr); '#' starts a
    comment. Returns an Instr, or None for an empty line."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    words = text.split()
    op = words[0].upper()
    if op not in OP:
        raise InstrError(f"unknown mnemonic {words[0]!r}; known: {', '.join(OP)}")
    wanted = dict(OPERANDS[op])
    kw = {}
    flags = 0
    for tok in words[1:]:
        if op in FLAG_WORDS and tok.lower() == FLAG_WORDS[op]:
            flags |= 1
            continue
        m = _TOKEN.match(tok)
        if not m or m.group(1) not in wanted:
            raise InstrError(f"{op}: unexpected operand {tok!r}; expected "
                             f"{', '.join(n + '=' for n in wanted) or 'none'}"
                             + (f" and optionally '{FLAG_WORDS[op]}'" if op in FLAG_WORDS else ""))
        kw[wanted[m.group(1)]] = int(m.group(2), 0)
    missing = [n for n, f in OPERANDS[op] if f not in kw and n not in OPTIONAL]
    if missing:
        raise InstrError(f"{op}: missing operand(s) {', '.join(n + '=' for n in missing)}")
    return Instr(op, flags=flags, **kw)
