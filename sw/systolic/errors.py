"""Errors of the systolic-unit software (all EiegenError: the CLI prints them)."""

from ..errors import EiegenError, CapacityError

__all__ = ["SystolicError", "QuantError", "ProgramError", "CapacityError"]


class SystolicError(EiegenError):
    """Bad input to the systolic compiler, assembler or runner."""


class QuantError(SystolicError):
    """A requantisation multiplier or shift the activation unit cannot apply."""


class ProgramError(SystolicError):
    """A program the unit would fault on or that does not fit its memories."""
