"""The systolic golden model against plain numpy / Python arithmetic."""

import math
from fractions import Fraction

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.isa import Instr
from eiegen.sim.systolic_golden import (Machine, MachineError, dense_layer, matmul_acc,
                                        requantize, wrap)
from eiegen.sw.systolic import Layer, compile_layers, compile_matmul


def test_matmul_acc_is_numpy_matmul():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (17, 33))
    w = rng.integers(-128, 128, (33, 9))
    np.testing.assert_array_equal(matmul_acc(x, w), x.astype(np.float64) @ w)


def test_wrap_matches_twos_complement():
    for width in (8, 16, 32):
        vals = np.array([0, 1, -1, 2 ** (width - 1), -2 ** (width - 1) - 1, 3 * 2 ** width + 5])
        want = [((int(v) + 2 ** (width - 1)) % 2 ** width) - 2 ** (width - 1) for v in vals]
        assert list(wrap(vals, width)) == want
    # a 16-bit accumulator wraps
    x = np.full((1, 4), 127)
    w = np.full((4, 1), 127)
    assert matmul_acc(x, w, 16)[0, 0] == 4 * 127 * 127 - 2 ** 16


def _reference(a, mult, shift, relu, width=8):
    """Exact rational arithmetic: round half up, then clamp."""
    v = max(a, 0) if relu else a
    q = Fraction(v * mult, 2 ** shift)
    r = math.floor(q + Fraction(1, 2))
    return min(max(r, -2 ** (width - 1)), 2 ** (width - 1) - 1)


def test_requantize_against_exact_rationals():
    rng = np.random.default_rng(1)
    accs = np.concatenate([rng.integers(-2 ** 31, 2 ** 31, 300), np.arange(-40, 41),
                           [2 ** 31 - 1, -2 ** 31]])
    for mult, shift in ((1, 0), (1, 1), (3, 3), (65535, 47), (12345, 20), (255, 7)):
        for relu in (False, True):
            got = requantize(accs, mult, shift, relu)
            want = [_reference(int(a), mult, shift, relu) for a in accs]
            assert list(got) == want, (mult, shift, relu)


def test_requantize_ties_go_up_and_saturate():
    assert list(requantize(np.array([5, -5, 3, -3, 1, -1]), 1, 1)) == [3, -2, 2, -1, 1, 0]
    assert list(requantize(np.array([10 ** 6, -10 ** 6]), 1, 0)) == [127, -128]
    assert list(requantize(np.array([10 ** 6, -10 ** 6]), 1, 0, relu=True)) == [127, 0]
    # wide operands take the exact (Python int) path
    big = np.array([2 ** 62, -2 ** 62], dtype=np.int64)
    assert list(requantize(big, 2 ** 31, 90, out_width=16)) == [_reference(2 ** 62, 2 ** 31, 90, False, 16),
                                                               _reference(-2 ** 62, 2 ** 31, 90, False, 16)]
    with pytest.raises(ValueError):
        requantize(np.array([1]), 0, 0)


def test_dense_layer_close_to_float():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (8, 64))
    w = rng.integers(-128, 128, (64, 16))
    mult, shift = 3, 17
    y = dense_layer(x, w, mult, shift, relu=False)
    f = np.clip((x @ w) * mult / 2 ** shift, -128, 127)
    assert np.max(np.abs(y - f)) <= 0.5


@pytest.mark.parametrize("R,C", [(1, 1), (2, 3), (4, 4), (5, 2)])
def test_compiled_programs_on_the_machine_equal_numpy(R, C):
    """Compiler + ISA semantics: the Machine running a compiled program gives
    the plain numpy result, for int32 and requantised outputs and chains."""
    p = SystolicParams(rows=R, cols=C, ub_depth=2048, acc_depth=64, wmem_depth=4096,
                       imem_depth=4096)
    rng = np.random.default_rng(R * 7 + C)
    for _ in range(4):
        M, K, N = (int(v) for v in rng.integers(1, 4 * max(R, C) + 2, 3))
        x = rng.integers(-128, 128, (M, K))
        w = rng.integers(-128, 128, (K, N))
        out = "int32" if -(-N // C) * M <= p.acc_depth else "int8"
        comp = compile_matmul(M, w, p, mult=7, shift=9, relu=True, output=out)
        mach = Machine(p)
        for mem, base, rows in comp.memory_writes(x):
            if mem != "imem":
                mach.write(mem, base, rows)
        mach.run(comp.program)
        y = comp.unpack_output(mach.read(*comp.output_read()))
        want = x @ w if out == "int32" else dense_layer(x, w, 7, 9, True)
        np.testing.assert_array_equal(y, want)
    # two chained layers
    layers = [Layer(rng.integers(-128, 128, (9, 7)), 5, 10, True),
              Layer(rng.integers(-128, 128, (7, 3)), 9, 11, False)]
    comp = compile_layers(6, layers, p)
    x = rng.integers(-128, 128, (6, 9))
    mach = Machine(p)
    for mem, base, rows in comp.memory_writes(x):
        if mem != "imem":
            mach.write(mem, base, rows)
    mach.run(comp.program)
    h = dense_layer(x, layers[0].weight, 5, 10, True)
    np.testing.assert_array_equal(comp.unpack_output(mach.read(*comp.output_read())),
                                  dense_layer(h, layers[1].weight, 9, 11, False))


def test_machine_refuses_what_the_unit_faults_on():
    p = SystolicParams(rows=2, cols=2)
    with pytest.raises(MachineError, match="no weight tile"):
        Machine(p).run([Instr("MMUL", n=1), Instr("HALT")])
    with pytest.raises(MachineError, match="both weight banks"):
        Machine(p).run([Instr("RW"), Instr("RW"), Instr("RW"), Instr("HALT")])
    with pytest.raises(MachineError, match="do not exist"):
        Machine(p).run([Instr("RW", a=p.wmem_depth - 1), Instr("HALT")])
    with pytest.raises(MachineError, match="without HALT"):
        Machine(p).run([Instr("NOP")])
