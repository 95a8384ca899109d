"""Cycle model of the EIE array: cycles, per-PE busy and idle, broadcasts, stalls.

The model is the RTL's timing as recurrences, not an estimate: the tests run
the generated Verilog and require every counter to be equal to this model's.
Its latencies come from hw/eie/timing.py, the same table the RTL is sized
from (docs/eie-architecture.md has the pipeline they describe).

Per layer, with in_local slices (slice k: word k of every PE's source file),
broadcasts b = 0..B-1 the non-zero input activations in increasing column
order j_b (slice k_b = j_b // N), n_p(b) PE p's number of entries (padding
included) in column j_b, and from the Timing: Lp slice latency, F slice
slots, L broadcast latency, C credit latency, S queue slots, c0 the first
COMPUTE cycle:

    R_k   = max(c0, R_{k-1} + 1, Ret_{k-F} + 2)         slice k read
    H_k   = max(R_k + Lp, Ret_{k-1} + 1)                slice k at the LNZD head
    T_b   = max(T_{b-1} + 1, H_{k_b}, max_p Pop_p(b - S) + C)     issue
    Ret_k = T of slice k's last broadcast, or H_k for a slice of zeros
    Pop_p(b) = max(T_b + L, Pop_p(b-1) + 1, U_p if n_p(b) > 0)    dequeue
    U_p   = Pop_p(b) + n_p(b)              after a non-empty column: busy until

A PE issues the entries of a column on cycles Pop .. Pop + n - 1 (its
accumulators are written mac_latency cycles later); an empty column is
dequeued and dropped in one cycle, even while the PE is busy. COMPUTE ends
on the first cycle t with t >= Ret_last + 2, t >= T_last + arrival +
idle_latency and t >= (the PEs' last activity) + 1 + idle_latency.

`organisation="paper"` runs the EIE paper's PE instead (model only, for
comparison with its Figure 6.10): an ideal LNZD (one broadcast a cycle, no
slice scan), a broadcast reaches the queues in one cycle, pointers are read
after the dequeue, and the queue has exactly D slots. `"eiegen-2026-11"` is
the array before its pipelining (broadcast latency 4, D + 4 slots), kept for
before/after figures.
"""

import dataclasses

import numpy as np

from ..hw.eie.params import EIEParams
from ..hw.eie.timing import Timing, timing as timing_of

__all__ = ["LayerCycles", "CycleReport", "layer_cycles", "simulate", "column_entry_counts",
           "array_timing", "ORGANISATIONS"]

ORGANISATIONS = ("eiegen", "paper", "eiegen-2026-11")


def array_timing(n_pes, fifo_depth, **kw):
    """The Timing of an array of n_pes with this FIFO depth (and the other
    timing parameters of EIEParams: mem_latency, queue_slots, lnzd_slots)."""
    return timing_of(EIEParams(n_pes=n_pes, fifo_depth=fifo_depth, **kw))


@dataclasses.dataclass
class LayerCycles:
    name: str
    setup: int
    init: int
    compute: int
    writeback: int
    broadcasts: int
    bcast_stall: int          # cycles a non-zero waited for a free queue slot
    busy: np.ndarray          # per PE: cycles issuing an entry (= entries processed)
    idle: np.ndarray          # per PE: compute-phase cycles not issuing an entry

    @property
    def total(self):
        return self.setup + self.init + self.compute + self.writeback

    @property
    def ideal_compute(self):
        """Compute cycles with perfect balance and no stalls: entries / N."""
        return int(-(-int(self.busy.sum()) // len(self.busy)))

    @property
    def load_efficiency(self):
        return self.ideal_compute / self.compute if self.compute else 1.0


@dataclasses.dataclass
class CycleReport:
    layers: list
    total_cycles: int

    @property
    def busy(self):
        return sum(l.busy for l in self.layers)

    @property
    def idle(self):
        return sum(l.idle for l in self.layers)

    @property
    def broadcasts(self):
        return sum(l.broadcasts for l in self.layers)

    @property
    def bcast_stall(self):
        return sum(l.bcast_stall for l in self.layers)

    @property
    def entries(self):
        return int(self.busy.sum())

    @property
    def compute_cycles(self):
        return sum(l.compute for l in self.layers)

    @property
    def ideal_cycles(self):
        return sum(l.ideal_compute for l in self.layers)

    @property
    def load_efficiency(self):
        c = self.compute_cycles
        return self.ideal_cycles / c if c else 1.0

    def to_dict(self):
        return {
            "total_cycles": int(self.total_cycles),
            "compute_cycles": int(self.compute_cycles),
            "ideal_compute_cycles": int(self.ideal_cycles),
            "load_efficiency": float(self.load_efficiency),
            "broadcasts": int(self.broadcasts),
            "bcast_stall": int(self.bcast_stall),
            "entries": self.entries,
            "busy": [int(v) for v in self.busy],
            "idle": [int(v) for v in self.idle],
            "layers": [{"name": l.name, "setup": l.setup, "init": l.init, "compute": l.compute,
                        "writeback": l.writeback, "broadcasts": l.broadcasts,
                        "bcast_stall": l.bcast_stall, "load_efficiency": l.load_efficiency,
                        "busy": [int(v) for v in l.busy], "idle": [int(v) for v in l.idle]}
                       for l in self.layers],
        }

    def table(self):
        rows = [f"{'layer':12s} {'cycles':>9s} {'compute':>9s} {'ideal':>9s} {'eff':>6s} "
                f"{'bcasts':>7s} {'stall':>7s}"]
        for l in self.layers:
            rows.append(f"{l.name:12s} {l.total:9d} {l.compute:9d} {l.ideal_compute:9d} "
                        f"{l.load_efficiency:6.1%} {l.broadcasts:7d} {l.bcast_stall:7d}")
        rows.append(f"{'total':12s} {self.total_cycles:9d} {self.compute_cycles:9d} "
                    f"{self.ideal_cycles:9d} {self.load_efficiency:6.1%} {self.broadcasts:7d} "
                    f"{self.bcast_stall:7d}")
        return "\n".join(rows)


def column_entry_counts(image, li):
    """(N, in_local * N) entries of every PE in every column of layer li."""
    layer = image.layers[li]
    counts = [np.diff(p[layer.ptr_base: layer.ptr_base + layer.n_ptrs]) for p in image.ptr]
    return np.stack(counts).astype(np.int64)


def layer_cycles(counts, cols, in_local, timing, organisation="eiegen"):
    """COMPUTE phase of one layer. counts: (N, B) entries per PE per broadcast
    in broadcast order; cols: (B,) their global columns (increasing);
    in_local: slices. Returns (compute cycles, bcast stall cycles, busy per PE)."""
    counts = np.asarray(counts, dtype=np.int64)
    n_pes, n_b = counts.shape
    t = timing
    busy = counts.sum(axis=1)
    if organisation == "paper":
        L, C, S, mac = 1, 1, t.fifo_depth, t.mac_latency
    elif organisation == "eiegen-2026-11":
        # the array before the pipelining of 2026-12 (combinational LNZD tree), for
        # before/after comparisons: broadcast latency 4, credit latency 1, D + 4 slots
        L, C, S, mac = 4, 1, t.fifo_depth + 4, 3
    elif organisation == "eiegen":
        L, C, S, mac = t.bcast_latency, t.credit_latency, t.queue_slots, t.mac_latency
    else:
        raise ValueError(f"organisation must be one of {ORGANISATIONS}, got {organisation!r}")
    NEG = -(1 << 40)
    pop = np.full(n_pes, NEG, dtype=np.int64)
    until = np.full(n_pes, NEG, dtype=np.int64)
    last = np.full(n_pes, NEG, dtype=np.int64)        # last activity per PE
    max_pop = np.empty(max(n_b, 1), dtype=np.int64)
    stall = 0
    prev_t = NEG
    c0 = 0

    def issue(b, earliest):
        nonlocal prev_t, stall, pop, until, last
        tb = earliest
        if b >= S:
            tb = max(tb, int(max_pop[b - S]) + C)
        stall += tb - earliest
        n = counts[:, b]
        nz = n > 0
        p = np.maximum(tb + L, pop + 1)
        p = np.where(nz, np.maximum(p, until), p)
        until = np.where(nz, p + n, until)
        last = np.maximum(last, np.where(nz, p + n - 1 + mac, p))
        pop = p
        max_pop[b] = p.max()
        prev_t = tb

    if organisation != "eiegen":
        for b in range(n_b):
            issue(b, max(prev_t + 1, c0))
        end = max(int(last.max()) + 1, c0) if n_b else c0
        return end - c0 + 1, stall, busy

    cols = np.asarray(cols, dtype=np.int64)
    slice_of = cols // n_pes
    bounds = np.searchsorted(slice_of, np.arange(in_local + 1))
    Lp, F = t.slice_latency, t.slice_slots
    ret = np.empty(in_local, dtype=np.int64)
    r_prev = NEG
    for k in range(in_local):
        r = max(c0, r_prev + 1)
        if k >= F:
            r = max(r, int(ret[k - F]) + t.slice_credit)
        h = max(r + Lp, int(ret[k - 1]) + 1 if k else NEG)
        lo, hi = bounds[k], bounds[k + 1]
        if lo == hi:
            ret[k] = h
        else:
            for b in range(lo, hi):
                issue(b, max(prev_t + 1, h))
            ret[k] = prev_t
        r_prev = r
    end = int(ret[-1]) + t.slice_credit if in_local else c0
    if n_b:
        end = max(end, prev_t + t.arrival + t.idle_latency, int(last.max()) + 1 + t.idle_latency)
    return end - c0 + 1, stall, busy


def simulate(image, x, *, fifo_depth=None, params=None, layer_inputs=None, organisation="eiegen",
             timing=None):
    """Cycle model of running `image` on int16 input vector x (n_in,) on the
    array `params` (an EIEParams; its timing fields matter: fifo_depth,
    mem_latency, queue_slots, lnzd_slots), or on an array of the image's
    parameters with this `fifo_depth` and the defaults of the rest.
    layer_inputs: the int16 input of each layer (computed with the golden
    model when not given)."""
    if layer_inputs is None:
        from .eie_golden import image_forward
        decoded = image.decode()
        outs = image_forward(decoded, x, frac=image.params.frac,
                             acc_width=image.params.acc_width, all_layers=True)
        layer_inputs = [np.asarray(x)] + outs[:-1]
    n = image.params.n_pes
    if timing is None:
        if params is None:
            params = image.params.replace(fifo_depth=fifo_depth)
        elif fifo_depth is not None:
            params = params.replace(fifo_depth=fifo_depth)
        timing = timing_of(params)
    t = timing
    layers = []
    total = 0
    for li, layer in enumerate(image.layers):
        a = np.asarray(layer_inputs[li]).astype(np.int64)
        cols = np.flatnonzero(a)
        counts = column_entry_counts(image, li)[:, cols]
        compute, stall, busy = layer_cycles(counts, cols, layer.in_local, t, organisation)
        lc = LayerCycles(layer.name, t.setup, layer.out_local + t.init_tail, compute,
                         layer.out_local + t.wb_tail, len(cols), stall, busy,
                         compute - busy)
        layers.append(lc)
        total += lc.total
    return CycleReport(layers, total)
