"""Software for the systolic matrix unit: assembler, compiler, host-bus map, RTL runner.

    from eiegen.hw.systolic import SystolicParams
    from eiegen.sw.systolic import compile_matmul, run_matmul

See docs/systolic.md.
"""

from .errors import SystolicError, QuantError, ProgramError
from .assembler import Program, check_quant
from .compiler import Layer, Compiled, compile_layers, compile_matmul, quant_from_scale

__all__ = ["SystolicError", "QuantError", "ProgramError", "Program", "check_quant", "Layer",
           "Compiled", "compile_layers", "compile_matmul", "quant_from_scale", "run_matmul",
           "run_compiled", "dense_cycles"]


def __getattr__(name):
    if name in ("run_matmul", "run_compiled", "run_layers"):
        from . import rtl
        return getattr(rtl, name)
    if name == "dense_cycles":
        from .compare import dense_cycles
        return dense_cycles
    raise AttributeError(name)
