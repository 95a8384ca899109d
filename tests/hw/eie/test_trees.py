# amaranth: UnusedElaboratable=no
"""hw/eie/trees.py: fan-out, delay, OR/AND gathers and the wrap-around
minimum, each against a shifted numpy reference of random input streams:
the output at cycle t is the function of the inputs at t - latency."""

import numpy as np
import pytest
from amaranth import Module, Signal, Elaboratable

from eiegen.hw.eie import trees
from eiegen.hw.eie.timing import tree_levels
from eiegen.sim.amaranth_sim import run

CYCLES = 60


class _Tree(Elaboratable):
    """n inputs of `width` bits -> the tree's outputs."""

    def __init__(self, build, n, width, n_out=1):
        self.build, self.width = build, width
        self.ins = [Signal(width, name=f"in{i}") for i in range(n)]
        self.outs = [Signal(width, name=f"out{i}") for i in range(n_out)]

    def elaborate(self, platform):
        m = Module()
        outs = self.build(m, self.ins)
        outs = outs if isinstance(outs, list) else [outs]
        assert len(outs) == len(self.outs)
        m.d.comb += [s.eq(o) for s, o in zip(self.outs, outs)]
        # a register so the module has a sync domain even with no tree levels
        tick = Signal()
        m.d.sync += tick.eq(~tick)
        return m


class _Recorder:
    """Stands in for a Module: records what a tree adds to `m.d.sync`."""

    class _Domain:
        def __init__(self):
            self.stmts = []

        def __iadd__(self, stmts):
            self.stmts.extend(stmts if isinstance(stmts, list) else [stmts])
            return self

    def __init__(self):
        self.d = type("D", (), {})()
        self.d.sync = self._Domain()


def _stream(dut, inputs):
    """Drive inputs[t] (a list per cycle), return the outputs seen per cycle."""
    seen = []

    async def tb(ctx):
        for vals in inputs:
            for s, v in zip(dut.ins, vals):
                ctx.set(s, int(v))
            seen.append([ctx.get(o) for o in dut.outs])
            await ctx.tick()

    run(dut, tb)
    return seen


def _check_shifted(seen, expect, latency):
    for t in range(latency, len(seen)):
        assert seen[t] == expect[t - latency], (t, seen[t], expect[t - latency])


@pytest.mark.parametrize("n", [1, 3, 4, 5, 16, 17, 20])
def test_fanout(n):
    levels = tree_levels(n)
    rng = np.random.default_rng(n)
    holder = {}

    def build(m, ins):
        leaves = trees.fanout(m, ins[0], n, levels, name="fo")
        holder["leaves"] = leaves
        return leaves

    dut = _Tree(build, 1, 8, n_out=n)
    inputs = [[v] for v in rng.integers(0, 256, CYCLES)]
    seen = _stream(dut, inputs)
    _check_shifted(seen, [[v[0]] * n for v in inputs], levels)
    # every register drives at most 4 registers or 4 PEs: leaves come in groups of 4
    distinct = len({id(leaf) for leaf in holder["leaves"]})
    assert distinct == (1 if levels == 0 else -(-n // 4))


@pytest.mark.parametrize("n, extra", [(1, 0), (4, 0), (5, 0), (17, 0), (64, 0),
                                      (5, 1), (17, 1), (32, 1), (48, 1), (64, 1)])
def test_fanout_per_leaf(n, extra):
    # the last level has a register for every PE, the latency stays `levels`; with one
    # level more than the tree needs (extra: hw/eie/timing.py pe_stage) no register
    # drives more than 4 others or PEs
    levels = tree_levels(n) + extra
    rng = np.random.default_rng(n + 1 + extra)
    holder = {}

    def build(m, ins):
        holder["leaves"] = trees.fanout(m, ins[0], n, levels, name="fo", per_leaf=True)
        return holder["leaves"]

    dut = _Tree(build, 1, 8, n_out=n)
    inputs = [[v] for v in rng.integers(0, 256, CYCLES)]
    _check_shifted(_stream(dut, inputs), [[v[0]] * n for v in inputs], levels)
    distinct = len({id(leaf) for leaf in holder["leaves"]})
    assert distinct == (1 if levels == 0 else n)
    if not extra:
        return
    # the loads of every register (and of the root), from the statements the tree adds
    rec = _Recorder()
    trees.fanout(rec, Signal(8), n, levels, name="fo", per_leaf=True)
    loads = {}
    for stmt in rec.d.sync.stmts:
        loads[id(stmt.rhs)] = loads.get(id(stmt.rhs), 0) + 1
    assert len(rec.d.sync.stmts) > n and max(loads.values()) <= 4, sorted(loads.values())


@pytest.mark.parametrize("cycles", [0, 1, 3])
def test_delay(cycles):
    rng = np.random.default_rng(cycles)
    dut = _Tree(lambda m, ins: trees.delay(m, ins[0], cycles), 1, 5)
    inputs = [[v] for v in rng.integers(0, 32, CYCLES)]
    _check_shifted(_stream(dut, inputs), inputs, cycles)


@pytest.mark.parametrize("n", [1, 2, 4, 5, 16, 17, 64])
@pytest.mark.parametrize("op", ["or", "and"])
def test_gather(n, op):
    levels = tree_levels(n)
    rng = np.random.default_rng(n)
    width = 16 if op == "or" else 1
    if op == "or":
        dut = _Tree(lambda m, ins: trees.gather_or(m, ins, levels), n, width)
        # mostly one PE non-zero at a time (the broadcast value), sometimes many
        inputs = np.where(rng.random((CYCLES, n)) < 2 / n, rng.integers(0, 1 << 16, (CYCLES, n)), 0)
        expect = [[int(np.bitwise_or.reduce(row))] for row in inputs]
    else:
        dut = _Tree(lambda m, ins: trees.gather_and(m, ins, levels), n, width)
        inputs = (rng.random((CYCLES, n)) < 1 - 0.5 / n).astype(int)
        expect = [[int(row.all())] for row in inputs]
        assert 0 < sum(e[0] for e in expect) < CYCLES
    _check_shifted(_stream(dut, inputs.tolist()), expect, levels)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 16, 17, 64])
def test_gather_min_wraps(n, parallel):
    levels = tree_levels(n)
    width = 7
    rng = np.random.default_rng(n)
    # counters within half the range of each other, around a base that wraps
    base = rng.integers(0, 1 << width, CYCLES)
    offs = rng.integers(0, 1 << (width - 1), (CYCLES, n))
    inputs = (base[:, None] + offs) % (1 << width)
    expect = [[int((b + o.min()) % (1 << width))] for b, o in zip(base, offs)]
    # some cycles have counters on both sides of the wrap
    assert n == 1 or any((b + o.max()) >> width and not (b + o.min()) >> width
                         for b, o in zip(base, offs))
    dut = _Tree(lambda m, ins: list(trees.gather_min(m, ins, levels, width, parallel=parallel)),
                n, width, n_out=2)
    seen = _stream(dut, inputs.tolist())
    # the result register, levels + 1 cycles late; its next value, one cycle earlier
    _check_shifted([[s[0]] for s in seen], expect, levels + 1)
    _check_shifted([[s[1]] for s in seen], expect, levels)


def test_too_few_levels_refused():
    for fn in (lambda m, ins: trees.gather_or(m, ins, 0), lambda m, ins: trees.gather_and(m, ins, 0),
               lambda m, ins: list(trees.gather_min(m, ins, 0, 4))):
        dut = _Tree(fn, 5, 4)
        with pytest.raises(ValueError, match="5 leaves need more than 0 register levels"):
            from amaranth.hdl import Fragment
            Fragment.get(dut, None)
