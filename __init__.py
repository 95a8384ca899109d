"""eiegen: Deep Compression, EIE and a TPU-style systolic unit on FPGAs.

The repository root is this package; hw/, sw/, sim/ and boards/ are its
subpackages eiegen.hw, eiegen.sw, eiegen.sim and eiegen.boards.
"""

__version__ = "0.1.0"

# pytest collects the repository root as a package too (it holds this file)
# and, in a checkout whose folder name is not a Python identifier, imports
# this file as a bare module: there is no package to configure then.
if __package__:
    from .sw import toolchain as _toolchain

    _toolchain.configure()
