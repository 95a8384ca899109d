"""Generator parameters of an EIE array (plain Python, no Amaranth import).

The packer, the golden and cycle models, the RTL generator and the host tool
all take one EIEParams; an image's manifest carries the fields that the image
depends on (IMAGE_FIELDS), so an image built for other parameters is refused.
"""

import dataclasses

#: broadcasts in flight between the central unit's issue and a PE's dequeue
#: (Timing.bcast_latency + Timing.credit_latency - 1 in sim/eie_cycles.py):
#: each queue has this many slots beyond `fifo_depth`, so that the depth the
#: user asks for is the slack a PE gets, as in the EIE paper, and depth 1
#: still sustains one broadcast per cycle
BCAST_IN_FLIGHT = 4

__all__ = ["BCAST_IN_FLIGHT", "EIEParams", "IMAGE_FIELDS", "MEMORY_IDS", "RANGES", "check_param"]

#: fields an image depends on (checked when an image meets an array)
IMAGE_FIELDS = ("n_pes", "frac", "acc_width", "entries_per_word", "spmat_depth", "ptr_depth",
                "bias_depth", "act_depth", "max_layers")

#: host-link target ids (address bits [31:24]) of the EIE array's memories
MEMORY_IDS = {
    "control": 0x00,     # control and status registers (hw/eie/control.py)
    "layers": 0x01,      # layer descriptor table, 64-bit words
    "codebook": 0x02,    # codebooks, layer * 16 + index, int16 (shared by every PE)
    "spmat": 0x10,       # per PE: sparse-matrix memory, ENTRIES_PER_WORD x 8-bit entries
    "ptr_even": 0x11,    # per PE: column pointers p[g], g even, at g // 2
    "ptr_odd": 0x12,     # per PE: column pointers p[g], g odd, at g // 2
    "bias": 0x13,        # per PE: bias per local row, int16
    "act0": 0x14,        # per PE: activation file 0 (layer 0's source), int16
    "act1": 0x15,        # per PE: activation file 1, int16
}


#: the generator's range of every parameter, inclusive: (lo, hi). The one
#: table: EIEParams checks itself against it and the command line checks its
#: options against it before any work. Rules between fields stay in
#: EIEParams.__post_init__ (acc_width >= 17 + frac; entries_per_word a power of two).
RANGES = {
    "n_pes": (1, 64),
    "fifo_depth": (1, 64),
    "frac": (0, 15),
    "acc_width": (17, 64),
    "entries_per_word": (1, 8),
    "spmat_depth": (1, 1 << 20),
    "ptr_depth": (1, 1 << 16),
    "bias_depth": (1, 1 << 15),
    "act_depth": (1, 1 << 12),
    "max_layers": (1, 256),
}


def _check_int(name, value, lo, hi=None):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be in {rng}, got {value}")


def check_param(name, value):
    """Check one parameter against RANGES (ValueError naming it)."""
    _check_int(name, value, *RANGES[name])


@dataclasses.dataclass(frozen=True)
class EIEParams:
    n_pes: int = 4               # N processing elements
    fifo_depth: int = 8          # activation queue slack per PE (+ BCAST_IN_FLIGHT slots)
    frac: int = 8                # fractional bits of activations and weights (Q(15-frac).frac)
    acc_width: int = 32          # accumulator width, saturating
    entries_per_word: int = 2    # 8-bit (v, z) entries per sparse-matrix memory word
    spmat_depth: int = 2048      # sparse-matrix memory words per PE
    ptr_depth: int = 512         # pointers per bank (even / odd) per PE
    bias_depth: int = 256        # bias words per PE (all layers)
    act_depth: int = 64          # activations per PE per file (vectors up to n_pes * act_depth)
    max_layers: int = 4          # layer descriptors an image may hold

    def __post_init__(self):
        for name in RANGES:
            check_param(name, getattr(self, name))
        _check_int("acc_width", self.acc_width, 16 + self.frac + 1, RANGES["acc_width"][1])
        if self.entries_per_word & (self.entries_per_word - 1):
            raise ValueError(f"entries_per_word must be 1, 2, 4 or 8, got {self.entries_per_word}")

    # -- derived widths -------------------------------------------------------
    @property
    def queue_slots(self):
        """Physical activation queue depth: fifo_depth broadcasts of slack
        plus the broadcasts in flight in the issue -> dequeue pipeline."""
        return self.fifo_depth + BCAST_IN_FLIGHT

    @property
    def entry_capacity(self):
        """Entries one PE's sparse-matrix memory holds."""
        return self.spmat_depth * self.entries_per_word

    @property
    def ptr_width(self):
        """Bits of a column pointer: it counts entries, up to entry_capacity inclusive."""
        return max(1, self.entry_capacity.bit_length())

    @property
    def spmat_width(self):
        return 8 * self.entries_per_word

    @property
    def col_width(self):
        """Bits of a global column index j < n_pes * act_depth."""
        return max(1, (self.n_pes * self.act_depth - 1).bit_length())

    @property
    def act_index_width(self):
        """Bits of a local activation index k < act_depth."""
        return max(1, (self.act_depth - 1).bit_length())

    @property
    def pe_index_width(self):
        return max(1, (self.n_pes - 1).bit_length())

    @property
    def max_inputs(self):
        return self.n_pes * self.act_depth

    def image_dict(self):
        return {k: getattr(self, k) for k in IMAGE_FIELDS}

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)
