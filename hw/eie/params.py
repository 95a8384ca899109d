"""Generator parameters of an EIE array (plain Python, no Amaranth import).

The packer, the golden and cycle models, the RTL generator and the host tool
all take one EIEParams; an image's manifest carries the fields that the image
depends on (IMAGE_FIELDS), so an image built for other parameters is refused.
"""

import dataclasses

__all__ = ["EIEParams", "IMAGE_FIELDS", "MEMORY_IDS", "RANGES", "check_param", "CONTROL_REGS",
           "STATUS_BITS", "HostTarget", "HostMap", "host_map"]

#: fields an image depends on (checked when an image meets an array)
IMAGE_FIELDS = ("n_pes", "frac", "acc_width", "entries_per_word", "spmat_depth", "ptr_depth",
                "bias_depth", "act_depth", "max_layers")

#: the parameters a board reports in its IDENTIFY answer (docs/host-link.md): the
#: image interface and the FIFO depth; not the pipeline's timing fields (mem_latency,
#: queue_slots, lnzd_slots), which no host needs: the identify bytes share the link's
#: frame buffer, and with them the iCEBreaker's buffer would need a second block RAM
IDENTIFY_FIELDS = IMAGE_FIELDS[:1] + ("fifo_depth",) + IMAGE_FIELDS[1:]

#: host-link target ids (address bits [31:24]) of the EIE array's memories
MEMORY_IDS = {
    "control": 0x00,     # control and status registers (hw/eie/control.py)
    "layers": 0x01,      # layer descriptor table, four 16-bit words a layer
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
    "mem_latency": (1, 2),
    "queue_slots": (0, 256),
    "lnzd_slots": (0, 64),
}

#: word addresses of the control target (MEMORY_IDS["control"]), 4-byte words
CONTROL_REGS = {
    "status": 0x000,       # STATUS_BITS
    "num_layers": 0x001,   # read/write: layers a start runs (1 .. max_layers)
    "cycles": 0x002,       # cycles of the last run
    "broadcasts": 0x003,   # non-zero activations broadcast
    "bcast_stall": 0x004,  # cycles a non-zero waited for a free queue slot
    "busy_base": 0x100,    # + pe: cycles the PE issued an entry (= entries processed)
    "idle_base": 0x200,    # + pe: compute-phase cycles the PE issued none
}

#: bits of the status register
STATUS_BITS = {"busy": 0, "done": 1}

#: the control registers that are single words (the rest are per-PE bases)
_SINGLE_REGS = ("status", "num_layers", "cycles", "broadcasts", "bcast_stall")


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
    fifo_depth: int = 8          # activation queue slack per PE (plus the broadcast pipeline's slots)
    frac: int = 8                # fractional bits of activations and weights (Q(15-frac).frac)
    acc_width: int = 32          # accumulator width, saturating
    entries_per_word: int = 2    # 8-bit (v, z) entries per sparse-matrix memory word
    spmat_depth: int = 2048      # sparse-matrix memory words per PE
    ptr_depth: int = 512         # pointers per bank (even / odd) per PE
    bias_depth: int = 256        # bias words per PE (all layers)
    act_depth: int = 64          # activations per PE per file (vectors up to n_pes * act_depth)
    max_layers: int = 4          # layer descriptors an image may hold
    mem_latency: int = 2         # block-memory read latency: 2 with output registers (fast parts), or 1
    queue_slots: int = 0         # activation queue slots: 0 = fifo_depth + the broadcast round trip
                                 # (full rate); a number: exactly that many (small parts)
    lnzd_slots: int = 0          # slices the LNZD reads ahead: 0 = enough for one slice a cycle;
                                 # a number: exactly that many (small parts)

    def __post_init__(self):
        for name in RANGES:
            check_param(name, getattr(self, name))
        _check_int("acc_width", self.acc_width, 16 + self.frac + 1, RANGES["acc_width"][1])
        if self.entries_per_word & (self.entries_per_word - 1):
            raise ValueError(f"entries_per_word must be 1, 2, 4 or 8, got {self.entries_per_word}")
        if self.lnzd_slots == 1:
            raise ValueError("lnzd_slots must be 0 (automatic) or at least 2, got 1")

    # -- derived widths -------------------------------------------------------
    @property
    def timing(self):
        """The pipeline's latencies (hw/eie/timing.py)."""
        from .timing import timing
        return timing(self)

    @property
    def queue_depth(self):
        """Physical activation queue depth: `queue_slots` when set, else
        fifo_depth broadcasts of slack plus what the issue -> dequeue pipeline
        holds."""
        return self.timing.queue_slots

    @property
    def entry_capacity(self):
        """Entries one PE's sparse-matrix memory holds."""
        return self.spmat_depth * self.entries_per_word

    @property
    def most_broadcasts(self):
        """Columns a run can broadcast: max_layers layers of at most
        n_pes * act_depth columns (the bound of the broadcasts counter and,
        times a column's largest count, of a PE's busy counter)."""
        return self.max_layers * self.n_pes * self.act_depth

    @property
    def count_width(self):
        """Bits of a column's entry count in one PE: at most act_depth (a
        padding entry stands for 16 zero rows, so a column never has more
        entries than the PE has rows)."""
        return max(1, self.act_depth.bit_length())

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


# -- the host map ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HostTarget:
    """One target of the EIE array's host bus (address bits [31:24] = `id`).

    `words`: the word ranges [lo, hi) that exist; `word_bytes`: bytes per word
    on the link; `width`: bits per word in the array; `per_pe`: one copy per
    PE (address bits [23:16]), else PE must be 0; `data`: writes are data
    (inputs, control), not the model, so they do not clear the link's
    `loaded` flag (docs/host-link.md)."""
    name: str
    id: int
    words: tuple
    word_bytes: int
    width: int
    per_pe: bool
    data: bool = False

    @property
    def depth(self):
        """Words of a memory target (the end of its last range)."""
        return self.words[-1][1]

    def has_word(self, word):
        return any(lo <= word < hi for lo, hi in self.words)


@dataclasses.dataclass(frozen=True)
class HostMap:
    """Everything the host side needs to know about an EIE array's host bus,
    derived from its EIEParams: read by the RTL (hw/eie/array.py), the image
    writer (sw/linkimage.py), the link client and the cocotb harness."""
    params: "EIEParams"
    targets: dict

    @property
    def control_regs(self):
        return CONTROL_REGS

    def target(self, name):
        return self.targets[name]

    def by_id(self, tid):
        """The target with id `tid`, or None."""
        return next((t for t in self.targets.values() if t.id == tid), None)

    def word_bytes(self):
        return {name: t.word_bytes for name, t in self.targets.items()}

    def addr(self, name, pe=0, word=0):
        """The 32-bit host-bus address of `word` of target `name` (of PE `pe`)."""
        t = self.targets[name]
        if not t.per_pe and pe != 0:
            raise ValueError(f"target {name} is not per PE")
        return (t.id << 24) | (pe << 16) | word

    def reg_addr(self, reg, pe=0):
        """Address of control register `reg` (for the per-PE counters, of PE `pe`)."""
        return self.addr("control", 0, CONTROL_REGS[reg] + pe)

    def addr_ok(self, addr):
        """Whether the word at `addr` exists (as the array's bus says)."""
        t = self.by_id(addr >> 24)
        if t is None:
            return False
        pe, word = (addr >> 16) & 0xFF, addr & 0xFFFF
        if pe >= (self.params.n_pes if t.per_pe else 1):
            return False
        return t.has_word(word)

    @property
    def data_targets(self):
        return tuple(t.id for t in self.targets.values() if t.data)


def _bytes(bits):
    return -(-bits // 8)


def host_map(params):
    """The HostMap of an array built with `params`."""
    p = params
    n = p.n_pes
    cw = CONTROL_REGS
    control_words = tuple([(cw["status"], max(cw[r] for r in _SINGLE_REGS) + 1),
                           (cw["busy_base"], cw["busy_base"] + n),
                           (cw["idle_base"], cw["idle_base"] + n)])
    t = [
        HostTarget("control", MEMORY_IDS["control"], control_words, 4, 32, False, data=True),
        HostTarget("layers", MEMORY_IDS["layers"], ((0, 4 * p.max_layers),), 2, 16, False),
        HostTarget("codebook", MEMORY_IDS["codebook"], ((0, 16 * p.max_layers),), 2, 16, False),
        HostTarget("spmat", MEMORY_IDS["spmat"], ((0, p.spmat_depth),), _bytes(p.spmat_width),
                   p.spmat_width, True),
        HostTarget("ptr_even", MEMORY_IDS["ptr_even"], ((0, p.ptr_depth),), _bytes(p.ptr_width),
                   p.ptr_width, True),
        HostTarget("ptr_odd", MEMORY_IDS["ptr_odd"], ((0, p.ptr_depth),), _bytes(p.ptr_width),
                   p.ptr_width, True),
        HostTarget("bias", MEMORY_IDS["bias"], ((0, p.bias_depth),), 2, 16, True),
        HostTarget("act0", MEMORY_IDS["act0"], ((0, p.act_depth),), 2, 16, True, data=True),
        HostTarget("act1", MEMORY_IDS["act1"], ((0, p.act_depth),), 2, 16, True, data=True),
    ]
    return HostMap(p, {x.name: x for x in t})
