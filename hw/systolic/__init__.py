"""TPU-style weight-stationary systolic matrix unit (docs/systolic.md).

SystolicParams and the instruction set are plain Python (params.py, isa.py);
the Amaranth blocks are imported lazily so that software-only users do not
need Amaranth loaded.
"""

from .params import SystolicParams, TARGETS, REGS

__all__ = ["SystolicParams", "TARGETS", "REGS", "SystolicUnit"]


def __getattr__(name):
    if name == "SystolicUnit":
        from .top import SystolicUnit
        return SystolicUnit
    raise AttributeError(name)
