"""Generator parameters of the systolic matrix unit (plain Python, no Amaranth).

The compiler (eiegen.sw.systolic), the golden and cycle models
(eiegen.sim.systolic_*) and the RTL generator (eiegen.hw.systolic) all take
one SystolicParams. The host sees the same numbers in the ID registers
(docs/systolic.md), so a program compiled for another configuration can be
refused.
"""

import dataclasses

__all__ = ["SystolicParams", "TARGETS", "REGS", "MAX_INDEX_WORDS", "RANGES", "check_param",
           "MEM_LATENCY", "PE_LATENCY", "FETCH_LATENCY"]

#: host-bus targets (address bits [31:24]) of the systolic unit
TARGETS = {
    "regs": 0x20,        # control, status, identification and performance counters
    "imem": 0x21,        # instruction memory, one 64-bit instruction per word
    "wmem": 0x22,        # weight memory, weight rows as chunks of lanes
    "ub": 0x23,          # unified buffer, activation rows as chunks of lanes
    "acc": 0x24,         # accumulators, one lane (acc_width bits) per word
}

#: word index (address bits [15:0]) of the registers in target "regs"
REGS = {
    "ctrl": 0,           # W: bit0 start, bit1 resume (after RHM/WHM), bit2 abort. R: status
    "instr": 1,          # R: the instruction at the program counter, or the RHM/WHM waited on
    "id0": 2,            # R: rows, cols, in_width, acc_width, mult_width, counter_width, version
    "id1": 3,            # R: depths - 1: ub, acc, wmem, imem (16 bits each)
    "cycles": 8,         # R: cycles the sequencer ran (not counting host waits)
    "mac_active": 9,     # R: cycles an activation row entered the array
    "stall": 10,         # R: cycles no row entered the array and the instruction at pc waited
    "weight_stall": 11,  # R: ... of which a MMUL waiting for its weight tile to load
    "host_wait": 12,     # R: cycles paused at RHM/WHM for the host
    "instructions": 13,  # R: instructions issued
}

#: the host bus's word index is 16 bits (hw/common/hostbus.py)
MAX_INDEX_WORDS = 1 << 16

ID_VERSION = 2

# -- pipeline latencies (cycles), one place for the RTL, the cycle model and docs/systolic.md
#: block-RAM read: address presented -> synchronous read -> output register (data usable)
MEM_LATENCY = 2
#: PE: a_in -> psum_out: DSP input registers, product register, partial-sum register
PE_LATENCY = 3
#: start -> the first instruction in the sequencer's issue stage (fetch address, block RAM,
#: its output register, decode register)
FETCH_LATENCY = 4
#: activation unit: cycles from a group of lanes entering the multiplier stage to its
#: product being usable (DSP: the selected value's register, the DSP's input register,
#: its product register, the sum of the partial products)
ACT_DSP_STAGES = 4


#: the generator's range of every parameter, inclusive: (lo, hi). The one
#: table: SystolicParams checks itself against it and the command line checks
#: its options against it before any work. Rules between fields stay in
#: SystolicParams.__post_init__ (acc_width >= 2 * in_width, memories that fit
#: the host bus, a weight memory that holds one tile).
RANGES = {
    "rows": (1, 32),
    "cols": (1, 32),
    "in_width": (2, 16),
    "acc_width": (4, 64),
    "mult_width": (1, 32),
    "counter_width": (8, 64),
    "ub_depth": (1, 1 << 16),
    "acc_depth": (1, 1 << 16),
    "wmem_depth": (1, 1 << 16),
    "imem_depth": (1, 1 << 16),
    "act_lanes": (0, 32),
    "act_serial": (0, 1),
}


def _check_int(name, value, lo, hi=None):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"systolic parameter {name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"systolic parameter {name} must be in {rng}, got {value}")


def check_param(name, value):
    """Check one parameter against RANGES (ValueError naming it)."""
    _check_int(name, value, *RANGES[name])


def _clog2(n):
    return max(0, (n - 1).bit_length())


@dataclasses.dataclass(frozen=True)
class SystolicParams:
    rows: int = 8               # R: PE rows = K elements per weight tile (array inputs)
    cols: int = 8               # C: PE columns = N elements per weight tile (array outputs)
    in_width: int = 8           # activations and weights: signed in_width-bit integers
    acc_width: int = 32         # partial sums and accumulators (wrap modulo 2**acc_width)
    mult_width: int = 16        # requantisation multiplier: unsigned, 1 .. 2**mult_width - 1
    ub_depth: int = 1024        # unified-buffer rows (max(R, C) lanes each)
    acc_depth: int = 512        # accumulator rows (C lanes each)
    wmem_depth: int = 1024      # weight-memory rows (C lanes each; a tile is R rows)
    imem_depth: int = 512       # instructions
    counter_width: int = 40     # performance counters
    act_lanes: int = 0          # lanes the activation unit requantises at a time (0 or >= cols: all)
    act_serial: int = 0         # 1: bit-serial requantisation multiplier in logic (no DSP)

    def __post_init__(self):
        for name in RANGES:
            check_param(name, getattr(self, name))
        _check_int("acc_width", self.acc_width, 2 * self.in_width, RANGES["acc_width"][1])
        if self.wmem_depth < self.rows:
            raise ValueError(f"systolic parameter wmem_depth ({self.wmem_depth}) must hold one "
                             f"weight tile of rows={self.rows} rows")
        for target, words in (("ub", self.ub_depth * self.ub_chunks_padded),
                              ("wmem", self.wmem_depth * self.w_chunks_padded),
                              ("acc", self.acc_depth * self.acc_lanes_padded)):
            if words > MAX_INDEX_WORDS:
                raise ValueError(f"systolic memory {target} needs {words} host-bus words, more than "
                                 f"the bus's {MAX_INDEX_WORDS}; reduce its depth")

    # -- derived --------------------------------------------------------------
    @property
    def ub_lanes(self):
        """Lanes of a unified-buffer row: the array reads R of them, the
        activation unit writes C of them."""
        return max(self.rows, self.cols)

    @property
    def lane_bytes(self):
        """Bytes of one activation/weight lane on the host bus."""
        return (self.in_width + 7) // 8

    @property
    def chunk_lanes_max(self):
        return 8 // self.lane_bytes

    def chunk_lanes(self, lanes):
        """Lanes per host-bus word of a memory with `lanes` lanes per row."""
        return min(lanes, self.chunk_lanes_max)

    def chunks(self, lanes):
        cl = self.chunk_lanes(lanes)
        return -(-lanes // cl)

    @property
    def ub_chunks(self):
        return self.chunks(self.ub_lanes)

    @property
    def ub_chunks_padded(self):
        return 1 << _clog2(self.ub_chunks)

    @property
    def w_chunks(self):
        return self.chunks(self.cols)

    @property
    def w_chunks_padded(self):
        return 1 << _clog2(self.w_chunks)

    @property
    def acc_lanes_padded(self):
        return 1 << _clog2(self.cols)

    @property
    def ub_abits(self):
        """Bits of a unified-buffer row address."""
        return max(1, _clog2(self.ub_depth))

    @property
    def acc_abits(self):
        """Bits of an accumulator row address."""
        return max(1, _clog2(self.acc_depth))

    @property
    def row_count_bits(self):
        """Bits of a row count or row range end of a valid program (n <= the
        depth of the memory it walks): the wider address and one bit."""
        return max(self.ub_abits, self.acc_abits) + 1

    @property
    def imem_abits(self):
        return max(1, _clog2(self.imem_depth))

    @property
    def acc_bytes(self):
        return (self.acc_width + 7) // 8

    @property
    def product_width(self):
        """Width of acc * multiplier in the activation unit (signed)."""
        return self.acc_width + self.mult_width + 1

    @property
    def max_shift(self):
        return self.acc_width + self.mult_width - 1

    @property
    def pipeline_depth(self):
        """D: cycles from a MMUL issuing a row (unified-buffer read address) to
        that row's accumulator write: the buffer's read latency, the activation
        skew and the partial sums' way down (R - 1), the columns' (C - 1),
        the PE's latency and the accumulator's sum register: R + C + 4
        (docs/systolic.md, "Timing")."""
        return MEM_LATENCY + (self.rows - 1) + (self.cols - 1) + PE_LATENCY + 1

    def psum_width(self, row):
        """Bits of the partial sum leaving PE row `row` (0-based): the sum of
        row + 1 products of two in_width-bit numbers is exact in
        2 * in_width + ceil(log2(row + 1)) bits (and wraps at acc_width like
        the accumulators when that is narrower)."""
        return min(self.acc_width, 2 * self.in_width + _clog2(row + 1))

    # -- activation unit (requantisation) ---------------------------------------
    @property
    def act_group_lanes(self):
        """L: lanes requantised together (act_lanes, at most C; 0: all C)."""
        return min(self.act_lanes, self.cols) or self.cols

    @property
    def act_groups(self):
        """G: groups of L lanes in a row of C."""
        return -(-self.cols // self.act_group_lanes)

    @property
    def act_group_cycles(self):
        """Cycles a group occupies the multiplier: 1 (DSP), mult_width (bit-serial)."""
        return self.mult_width if self.act_serial else 1

    @property
    def act_row_cycles(self):
        """k: an ACT reads one accumulator row every k cycles (G groups)."""
        return self.act_groups * self.act_group_cycles

    @property
    def act_latency(self):
        """P: cycles from an ACT reading an accumulator row to writing its
        unified-buffer row (the cycle its write is presented): the read
        (MEM_LATENCY), the groups one after the other through the multiplier
        (last group: ACT_DSP_STAGES, or a load and mult_width steps), then
        the three requantisation stages (coarse shift, fine shift and
        rounding, saturation) (docs/systolic.md, "Activation unit")."""
        if self.act_serial:
            mult = 1 + self.act_row_cycles
        else:
            mult = self.act_groups - 1 + ACT_DSP_STAGES
        return MEM_LATENCY + mult + 3

    @property
    def act_dsps(self):
        """DSP multipliers the activation unit uses (18 x 18 blocks): per lane
        ceil(acc_width / 16) x ceil(mult_width / 17) partial products."""
        if self.act_serial:
            return 0
        return self.act_group_lanes * -(-self.acc_width // 16) * -(-self.mult_width // 17)

    @property
    def macs(self):
        return self.rows * self.cols

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown systolic parameters: {', '.join(sorted(unknown))}")
        return cls(**d)

    def id_words(self):
        """The values of registers id0 and id1 (what the host link identifies)."""
        id0 = (self.rows | self.cols << 8 | self.in_width << 16 | self.acc_width << 24 |
               self.mult_width << 32 | self.counter_width << 40 | self.act_lanes << 48 |
               self.act_serial << 54 | ID_VERSION << 56)
        id1 = ((self.ub_depth - 1) | (self.acc_depth - 1) << 16 | (self.wmem_depth - 1) << 32 |
               (self.imem_depth - 1) << 48)
        return id0, id1

    @classmethod
    def from_id_words(cls, id0, id1):
        return cls(rows=id0 & 0xFF, cols=(id0 >> 8) & 0xFF, in_width=(id0 >> 16) & 0xFF,
                   acc_width=(id0 >> 24) & 0xFF, mult_width=(id0 >> 32) & 0xFF,
                   counter_width=(id0 >> 40) & 0xFF, act_lanes=(id0 >> 48) & 0x3F,
                   act_serial=(id0 >> 54) & 1,
                   ub_depth=(id1 & 0xFFFF) + 1, acc_depth=((id1 >> 16) & 0xFFFF) + 1,
                   wmem_depth=((id1 >> 32) & 0xFFFF) + 1, imem_depth=((id1 >> 48) & 0xFFFF) + 1)
