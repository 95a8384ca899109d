"""Programs of the systolic unit: a list of instructions, its text form and checks.

Text form: one instruction per line, `MNEMONIC key=value ... [flag]`, '#'
starts a comment (eiegen.hw.systolic.isa.parse). Program.check(params)
refuses, naming the instruction, anything the unit would fault on or that
touches memory rows that do not exist.
"""

from ...hw.systolic.isa import Instr, InstrError, encode, decode, parse, format_instr
from .errors import ProgramError, QuantError

__all__ = ["Program", "check_quant"]


def check_quant(mult, shift, params, where="requantisation"):
    """Refuse a (multiplier, shift) pair the activation unit cannot apply."""
    if not isinstance(mult, int) or isinstance(mult, bool):
        raise QuantError(f"{where}: multiplier must be an integer, not {mult!r}")
    if not isinstance(shift, int) or isinstance(shift, bool):
        raise QuantError(f"{where}: shift must be an integer, not {shift!r}")
    top = (1 << params.mult_width) - 1
    if mult < 0:
        raise QuantError(f"{where}: negative multiplier {mult} is not supported: the activation "
                         f"unit multiplies by an unsigned integer 1..{top} (mult_width="
                         f"{params.mult_width}); negate the layer's weights instead")
    if mult == 0:
        raise QuantError(f"{where}: multiplier 0 is not supported (every output would be 0); "
                         f"the activation unit takes 1..{top}")
    if mult > top:
        raise QuantError(f"{where}: multiplier {mult} does not fit mult_width={params.mult_width} "
                         f"bits (max {top}); lower it and the shift together")
    if not 0 <= shift <= params.max_shift:
        raise QuantError(f"{where}: shift {shift} is outside 0..{params.max_shift} "
                         f"(acc_width + mult_width - 1)")


class Program:
    def __init__(self, instrs=()):
        self.instrs = [i if isinstance(i, Instr) else decode(i) for i in instrs]

    def __len__(self):
        return len(self.instrs)

    def __iter__(self):
        return iter(self.instrs)

    def __getitem__(self, k):
        return self.instrs[k]

    def append(self, ins):
        self.instrs.append(ins)
        return ins

    def words(self):
        return [encode(i) for i in self.instrs]

    def text(self):
        return "".join(f"{format_instr(i)}\n" for i in self.instrs)

    @classmethod
    def from_text(cls, text, source="<program>"):
        instrs = []
        for lineno, line in enumerate(text.splitlines(), 1):
            try:
                ins = parse(line)
            except InstrError as exc:
                raise ProgramError(f"{source}:{lineno}: {exc}") from None
            if ins is not None:
                instrs.append(ins)
        return cls(instrs)

    @classmethod
    def from_words(cls, words):
        try:
            return cls([decode(w) for w in words])
        except InstrError as exc:
            raise ProgramError(str(exc)) from None

    def check(self, params):
        """Raise ProgramError for the first instruction the unit would fault on."""
        p = params
        if len(self.instrs) > p.imem_depth:
            raise ProgramError(f"program has {len(self.instrs)} instructions; the instruction "
                               f"memory holds {p.imem_depth} (overflow {len(self.instrs) - p.imem_depth})")
        tiles = 0
        for k, ins in enumerate(self.instrs):
            where = f"instruction {k} ({format_instr(ins)})"

            def rows(what, start, n, depth):
                if start + n > depth:
                    raise ProgramError(f"{where}: {what} rows {start}..{start + n - 1} do not exist "
                                       f"(depth {depth})")
            op = ins.op
            if op in ("MMUL", "ACT", "RHM", "WHM") and ins.n == 0:
                raise ProgramError(f"{where}: n must be at least 1")
            if op == "RW":
                rows("weight-memory", ins.a, p.rows, p.wmem_depth)
                if tiles == 2:
                    raise ProgramError(f"{where}: both weight banks already hold tiles that no MMUL "
                                       f"has used (at most two RW ahead of the MMULs)")
                tiles += 1
            elif op == "MMUL":
                rows("unified-buffer", ins.a, ins.n, p.ub_depth)
                rows("accumulator", ins.b, ins.n, p.acc_depth)
                if tiles == 0:
                    raise ProgramError(f"{where}: no weight tile loaded (needs an RW before it)")
                tiles -= 1
            elif op == "ACT":
                rows("accumulator", ins.a, ins.n, p.acc_depth)
                rows("unified-buffer", ins.b, ins.n, p.ub_depth)
                if ins.lane % p.cols or ins.lane + p.cols > p.ub_lanes:
                    raise ProgramError(f"{where}: lanes {ins.lane}..{ins.lane + p.cols - 1} are not "
                                       f"a block of {p.cols} (cols) of the {p.ub_lanes} "
                                       f"unified-buffer lanes")
            elif op in ("RHM", "WHM"):
                rows("unified-buffer", ins.a, ins.n, p.ub_depth)
            elif op == "SETQ":
                try:
                    check_quant(ins.mult, ins.shift, p, where)
                except QuantError as exc:
                    raise ProgramError(str(exc)) from None
            elif op == "HALT":
                return self
        raise ProgramError("program has no HALT: the unit would run past its end")
