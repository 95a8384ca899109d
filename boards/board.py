"""What eiegen needs to know about a board, and the registry of boards.

A board is one small module in boards/ that defines `BOARD = Board(...)`:
the amaranth-boards platform, the FPGA family, the device's resources (for
the utilisation report), the oscillator and the clock the top-level runs at,
the UART and LED resources, which memories go into SPRAM, and the default
sizes of the EIE array and the systolic unit. `get_board(name)` finds it;
nothing else has to change to add a board.
"""

import dataclasses
import importlib
import pkgutil

from ..sw.errors import EiegenError

__all__ = ["Board", "Resources", "BoardError", "get_board", "board_names", "FAMILY_TOOLS"]


class BoardError(EiegenError):
    """An unknown board, or a configuration the board cannot hold."""


#: per FPGA family: the tools a build runs (amaranth tool name -> environment
#: variable), the nextpnr report's resource names, and the block-RAM
#: granularity of the weight-swap tools (icebram: 256 words, ecpbram: 512)
FAMILY_TOOLS = {
    "ice40": {
        "tools": {"yosys": "YOSYS", "nextpnr-ice40": "NEXTPNR_ICE40", "icepack": "ICEPACK"},
        "swap_tool": ("icebram", "ICEBRAM"),
        "bram_words": 256,
        "report_keys": {"logic": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "bram": "ICESTORM_RAM",
                        "spram": "ICESTORM_SPRAM", "pll": "ICESTORM_PLL"},
        "bitstream": "bin",
        "config": "asc",
    },
    "ecp5": {
        "tools": {"yosys": "YOSYS", "nextpnr-ecp5": "NEXTPNR_ECP5", "ecppack": "ECPPACK"},
        "swap_tool": ("ecpbram", "ECPBRAM"),
        "bram_words": 512,
        "report_keys": {"logic": "TRELLIS_COMB", "dsp": "MULT18X18D", "bram": "DP16KD",
                        "pll": "EHXPLLL"},
        "bitstream": "bit",
        "config": "config",
    },
}


@dataclasses.dataclass(frozen=True)
class Resources:
    """What the device offers (the denominators of the report)."""
    logic: int                  # iCE40: logic cells (LUT4 + FF); ECP5: LUT4s
    dsp: int                    # iCE40: SB_MAC16; ECP5: MULT18X18D
    bram: int                   # iCE40: 4 Kbit SB_RAM40_4K; ECP5: 18 Kbit DP16KD
    spram: int = 0              # iCE40UP: 256 Kbit SB_SPRAM256KA
    pll: int = 0
    logic_unit: str = "LC"      # how the report names `logic`


@dataclasses.dataclass(frozen=True)
class Board:
    name: str                   # the --board name
    title: str                  # human name, with the device
    platform: type              # amaranth-boards platform class
    family: str                 # "ice40" or "ecp5"
    resources: Resources
    clock: str                  # oscillator resource
    clock_hz: float             # its frequency
    sync_hz: float              # the clock the top-level runs at (PLL if != clock_hz)
    eie: dict                   # EIEParams fields of the default array
    systolic: dict              # SystolicParams fields of the default systolic unit
    uart: str = "uart"          # UART resource (index 0)
    baud: int = 115200
    leds: tuple = ()            # LED resources (name, index), status LEDs in order
    spram_memories: tuple = ()  # RAM name suffixes placed in SPRAM (iCE40UP)
    synth_opts: tuple = ()      # extra synth_<family> options
    nextpnr_opts: tuple = ()    # extra nextpnr options
    programmer: tuple = ()      # tools amaranth-boards wants only to program the board
    notes: str = ""
    systolic_hz: float = 0.0    # the clock of a systolic build (0: sync_hz)
    eie_hz: float = 0.0         # the clock of an EIE build (0: sync_hz)
    # the device's DSP multiplier and block RAM sites, for floorplans
    # (hw/common/sites.py Sites): rows of groups of adjacent blocks, nextpnr BEL names
    dsp_sites: object = None
    bram_sites: object = None

    @property
    def family_info(self):
        return FAMILY_TOOLS[self.family]

    def eie_params(self, **override):
        from ..hw.eie.params import EIEParams
        kw = dict(self.eie)
        kw.update({k: v for k, v in override.items() if v is not None})
        try:
            return EIEParams(**kw)
        except ValueError as exc:
            raise BoardError(f"board '{self.name}': EIE parameters: {exc}") from None

    def systolic_params(self, **override):
        from ..hw.systolic.params import SystolicParams
        kw = dict(self.systolic)
        kw.update({k: v for k, v in override.items() if v is not None})
        try:
            return SystolicParams(**kw)
        except ValueError as exc:
            raise BoardError(f"board '{self.name}': systolic parameters: {exc}") from None

    def design_hz(self, design):
        """The clock the top-level of `design` runs at by default."""
        if design == "systolic" and self.systolic_hz:
            return self.systolic_hz
        if design == "eie" and self.eie_hz:
            return self.eie_hz
        return self.sync_hz

    def in_spram(self, ram_name):
        return ram_name is not None and any(ram_name.endswith(s) for s in self.spram_memories)


# modules of this package that are infrastructure, not boards
_INFRA = {"board", "top", "build", "report", "swap", "clocking", "bram", "nullunit", "capacity", "standalone", "recorded", "floorplan"}


def _board_modules():
    from .. import boards as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in _INFRA or info.ispkg:
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        board = getattr(mod, "BOARD", None)
        if isinstance(board, Board):
            yield board


def board_names():
    return [b.name for b in _board_modules()]


def get_board(name):
    for b in _board_modules():
        if b.name == name:
            return b
    raise BoardError(f"unknown board '{name}' (boards: {', '.join(board_names())})")
