"""The systolic cycle model: exact single-fold timing, its relation to
SCALE-Sim's analytic weight-stationary formula, utilisation of large
matmuls. (Equality with the RTL's counters: tests/hw/systolic.)"""

import numpy as np
import pytest

from eiegen.hw.systolic import SystolicParams
from eiegen.hw.systolic.isa import Instr
from eiegen.hw.systolic.params import FETCH_LATENCY
from eiegen.sim.systolic_cycles import (ideal_cycles, scalesim_ws_cycles, simulate,
                                        utilisation)
from eiegen.sw.systolic import Program, compile_matmul


def big(R, C):
    words = 1 << max(0, (-(-max(R, C) // 8) - 1).bit_length())     # host-bus words per row
    return SystolicParams(rows=R, cols=C, ub_depth=65536 // words, acc_depth=1024,
                          wmem_depth=16384, imem_depth=16384)


@pytest.mark.parametrize("R,C,M", [(1, 1, 1), (4, 4, 4), (8, 3, 20), (16, 16, 100)])
def test_one_fold_is_scalesim_plus_the_pipeline(R, C, M):
    """RW, MMUL, HALT: SCALE-Sim's 2R + C + M - 2 leaves out the instruction
    fetch (FETCH_LATENCY), the pipeline registers of the datapath (D - R - C:
    the unified buffer's read and output register, the PE's product and sum
    registers, the accumulator's sum register) and the HALT cycle: 11 cycles."""
    p = big(R, C)
    prog = Program([Instr("RW"), Instr("MMUL", n=M), Instr("HALT")])
    r = simulate(prog, p)
    extra = FETCH_LATENCY + (p.pipeline_depth - R - C) + 1 + 2
    assert extra == 11
    assert r.cycles == scalesim_ws_cycles(M, R, C, R, C) + extra == 2 * R + C + M + 9
    assert r.mac_active == M
    assert r.instructions == 3
    # the array idles while the first tile loads (R - 1 cycles after the RW issues)
    # and while the last row drains; RW, MMUL and HALT issue while no row enters;
    # the cycles before the first instruction reaches the issue stage are no stall
    assert r.weight_stall == R - 1
    assert r.stall == r.cycles - r.mac_active - 3 - (FETCH_LATENCY - 1)


def test_scalesim_formula():
    assert scalesim_ws_cycles(100, 64, 64, 16, 16) == 16 * (32 + 16 + 100 - 2)
    assert scalesim_ws_cycles(1, 1, 1, 4, 4) == 8 + 4 + 1 - 2
    assert ideal_cycles(100, 64, 64, 16, 16) == 1600
    assert utilisation(64, 64, 64, 8, 8, 4096) == 1.0


@pytest.mark.parametrize("R", [4, 8, 16])
def test_large_matmuls_keep_the_array_busy(R):
    p = big(R, R)
    S = 256
    comp = compile_matmul(S, np.zeros((S, S), dtype=np.int64), p)
    r = simulate(comp.program, p)
    assert r.cycles >= ideal_cycles(S, S, S, R, R)
    assert utilisation(S, S, S, R, R, r.cycles) > 0.95
    # double-buffered weights beat SCALE-Sim's no-overlap folds
    assert r.cycles < scalesim_ws_cycles(S, S, S, R, R)
    assert r.mac_active == ideal_cycles(S, S, S, R, R)


def test_batch_one_is_bound_by_weight_loading():
    """M = 1 (matrix-vector): every tile takes R cycles to shift in, so a
    fold costs ~R cycles, not 1: the reason EIE serves these layers."""
    p = big(8, 8)
    comp = compile_matmul(1, np.zeros((128, 128), dtype=np.int64), p)
    r = simulate(comp.program, p)
    folds = 16 * 16
    assert comp.prefetch == 2
    assert folds * p.rows <= r.cycles <= folds * p.rows + 60
    assert r.mac_active == folds


def test_faults_are_modelled():
    p = big(2, 2)
    assert simulate(Program([Instr("MMUL", n=1), Instr("HALT")]), p).error == "no_tile"
    assert simulate(Program([Instr("SETQ", mult=0), Instr("HALT")]), p).error == "bad_quant"
