"""The array's registered trees between the central unit and the N PEs.

Each tree has `levels` register levels inside (hw/eie/timing.py
`tree_levels`: none up to 4 PEs, one more per factor of 4), so no signal
crosses the array in one cycle and the depth grows with log4 N only:

- `fanout(m, value, n, levels)`: one central register to N PE inputs. Leaf i
  sees the value `levels` cycles later; level registers are shared by groups
  of PEs (a register drives at most 4 loads below the top).
- `delay(m, value, cycles)`: a plain register chain (point-to-point signals
  that must stay aligned with a fan-out, e.g. a PE's grant).
- `gather_or(m, values, levels)`: OR of N PE values; `levels` register levels,
  the last OR level combinational into the caller's register.
- `gather_and(m, values, levels)`: the same with AND.
- `or_all(values)`: the OR of values, no register (a one-hot multiplexer).
- `gather_min(m, values, levels, width)`: the minimum of N counters that may
  wrap around (compared modulo 2**width, all within 2**(width-1) of each
  other); registered after every level of up to 4 (`levels` + 1 registers).
  Returns (the result register, its next value).
- `own_reset(m, unit, name, rst)`: `unit` in a clock domain of its own on
  `sync`'s clock, reset by `rst` (a leaf of a reset tree, or a register by
  the unit) instead of the one reset net over the die.
- `local_reset(m, unit, name, also)`: `unit` reset by `also` or by `sync`'s
  reset through a register of its own (a cycle later), which placement
  puts by the unit.

They are functions that add registers to the caller's module rather than
components: a tree is wiring with registers, its ports are the caller's
signals.
"""

from amaranth import Signal, Mux, Cat, ClockDomain, ClockSignal, ResetSignal
from amaranth.hdl import DomainRenamer, ResetInserter

__all__ = ["fanout", "delay", "gather_or", "gather_and", "gather_min", "own_reset", "local_reset",
           "or_all"]


def _groups(items, size=4):
    return [items[i:i + size] for i in range(0, len(items), size)]


#: attribute of the registers of a fan-out tree: copies Yosys must keep apart
#: (its opt_merge would merge registers with one input into one, which then
#: drives every PE across the chip); hw/common/ram.py SYNTH_SCRIPT_AFTER_READ
#: puts `keep` on the cells that drive wires carrying it
FANOUT_ATTR = "eiegen_fanout"


def _like(value, name, reset_less=False):
    return Signal.like(value, name=name, reset_less=reset_less)


def _copy(value, name, reset_less=False):
    return Signal.like(value, name=name, reset_less=reset_less, attrs={FANOUT_ATTR: 1})


def delay(m, value, cycles, *, name="dly", reset_less=False, keep=False):
    """`value` delayed by `cycles` registers (`reset_less` for data: the
    registers then carry no reset logic). `keep`: the registers carry
    FANOUT_ATTR, so synthesis keeps them even where another PE has the same
    (a PE's copy of what a fan-out leaf shared by several PEs brings)."""
    out = value
    for i in range(cycles):
        reg = (_copy if keep else _like)(out, f"{name}_{i}", reset_less)
        m.d.sync += reg.eq(out)
        out = reg
    return out


def fanout(m, value, n, levels, *, name="fo", reset_less=False, per_leaf=False):
    """A list of N values: `value` `levels` cycles later. Level lv has one
    register per group of 4**(levels - lv) PEs, driven by its parent's, so
    every register drives at most 4 registers or 4 PEs. With no levels every
    leaf is `value` itself. `per_leaf`: the groups are a level smaller, so the
    last level has a register for every PE (driven by a parent that serves
    4 PEs): for what fans out to many cells inside each PE, whose net then
    reaches the cells of one PE only. With `levels` = tree_levels(n) + 1
    every register still drives at most 4; with tree_levels(n) the top one
    drives up to 16."""
    leaves = [value] * n
    for lv in range(levels):
        size = 4 ** (levels - lv - (1 if per_leaf else 0))
        regs = {}
        nxt = []
        for i in range(n):
            g = i // size
            if g not in regs:
                regs[g] = reg = _copy(value, f"{name}_l{lv}_{g}", reset_less)
                m.d.sync += reg.eq(leaves[i])
            nxt.append(regs[g])
        leaves = nxt
    return leaves


def _reduce(m, values, levels, op, width, name):
    cur = list(values)
    for lv in range(levels):
        nxt = []
        for i, g in enumerate(_groups(cur)):
            reg = Signal(width, name=f"{name}_l{lv}_{i}", reset_less=True)
            m.d.sync += reg.eq(op(g))
            nxt.append(reg)
        cur = nxt
    if len(cur) > 4:
        raise ValueError(f"{len(values)} leaves need more than {levels} register levels")
    out = Signal(width, name=f"{name}_out")
    m.d.comb += out.eq(op(cur))
    return out


def or_all(values):
    """The OR of `values` (also one-hot selected words: an AND-OR multiplexer)."""
    values = list(values)
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out


def _and(vals):
    out = vals[0]
    for v in vals[1:]:
        out = out & v
    return out


def gather_or(m, values, levels, *, name="gor"):
    width = max(len(v) for v in values)
    return _reduce(m, values, levels, or_all, width, name)


def gather_and(m, values, levels, *, name="gand"):
    return _reduce(m, values, levels, _and, 1, name)


def gather_min(m, values, levels, width, *, name="gmin", parallel=False):
    """Registered minimum (modulo 2**width, see the module docstring).
    `parallel`: each register level compares its group's values all
    against each other at once and selects the one below every other (the
    first of equal ones), instead of a tournament of compare-and-select
    steps: one subtraction deep instead of two, for more subtractors."""
    def less(a, b):
        d = Signal(width, name=f"{name}_d")
        m.d.comb += d.eq(a - b)
        return d[-1]                      # a - b negative: a < b

    def minimum(vals):
        if parallel and len(vals) > 2:
            n = len(vals)
            # below[i, j] (i < j): vals[j] < vals[i]; all within 2**(width-1) of each
            # other, so the compares are a total order and exactly one value wins
            below = {(i, j): less(vals[j], vals[i]) for i in range(n) for j in range(i + 1, n)}
            win = [Signal(name=f"{name}_w{i}") for i in range(n)]
            for i in range(n):
                m.d.comb += win[i].eq(Cat(*[~below[i, j] for j in range(i + 1, n)],
                                          *[below[j, i] for j in range(i)]).all())
            s = Signal(width, name=f"{name}_m")
            m.d.comb += s.eq(or_all(Mux(w, v, 0) for w, v in zip(win, vals)))
            return s
        while len(vals) > 1:
            nxt = []
            for i in range(0, len(vals), 2):
                if i + 1 == len(vals):
                    nxt.append(vals[i])
                    continue
                a, b = vals[i], vals[i + 1]
                s = Signal(width, name=f"{name}_m")
                m.d.comb += s.eq(Mux(less(b, a), b, a))
                nxt.append(s)
            vals = nxt
        return vals[0]

    cur = list(values)
    nxt_value = None
    for lv in range(levels + 1):
        nxt = []
        for i, g in enumerate(_groups(cur)):
            reg = Signal(width, name=f"{name}_l{lv}_{i}")
            nxt_value = minimum(g)
            m.d.sync += reg.eq(nxt_value)
            nxt.append(reg)
        cur = nxt
    if len(cur) != 1:
        raise ValueError(f"{len(values)} leaves need more than {levels} register levels")
    return cur[0], nxt_value


def own_reset(m, unit, name, rst):
    """`unit` (an elaboratable of the `sync` domain) renamed into a local
    clock domain `name` of `m`, clocked by `sync`'s clock and reset by `rst`;
    returns it for `m.submodules`."""
    cd = ClockDomain(name, local=True)
    m.domains += cd
    m.d.comb += [cd.clk.eq(ClockSignal("sync")), cd.rst.eq(rst)]
    return DomainRenamer({"sync": name})(unit)


def local_reset(m, unit, name, also, *, domain=None):
    """`unit` (of the `sync` domain) reset by `also` (a signal of `m`) or by
    `sync`'s reset a cycle late, from a register `{name}_rst` of its own (kept
    apart by synthesis), in the local clock domain `domain` (default `name`);
    returns it for `m.submodules`."""
    rst = Signal(reset_less=True, name=f"{name}_rst", attrs={FANOUT_ATTR: 1})
    m.d.sync += rst.eq(ResetSignal("sync"))
    return own_reset(m, ResetInserter({"sync": also})(unit), domain or name, rst)
