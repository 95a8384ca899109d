"""eiegen: Deep Compression, EIE and a TPU-style systolic unit on FPGAs.

The repository root is this package; hw/, sw/, sim/ and boards/ are its
subpackages eiegen.hw, eiegen.sw, eiegen.sim and eiegen.boards.
"""

__version__ = "0.1.0"

from .sw import toolchain as _toolchain

_toolchain.configure()
