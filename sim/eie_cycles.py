"""Cycle model of the EIE array: cycles, per-PE busy and idle, broadcasts, stalls.

The model is the RTL's timing as recurrences, not an estimate: the tests run
the generated Verilog and require every counter to be equal to this model's.
Its constants (Timing) are the pipeline latencies of hw/eie (see
docs/eie-architecture.md for the pipeline diagram they come from).

Per layer, broadcasts b = 0..B-1 are the non-zero input activations in
increasing column order j_b (the LNZD order); n_p(b) is PE p's number of
entries (padding included) in column j_b. With FIFO depth D and
S = D + bcast_latency + credit_latency - 1 queue slots:

    T_b      = max(T_{b-1} + 1, max_p Pop_p(b - S) + credit_latency)   issue
    Pop_p(b) = max(T_b + bcast_latency, Pop_p(b-1) + 1,
                   U_p if n_p(b) > 0)                                   dequeue
    U_p      = Pop_p(b) + n_p(b)           after a non-empty column     busy until

A PE issues the entries of a column on cycles Pop .. Pop + n - 1; an empty
column is dequeued and dropped in one cycle, even while the PE is busy.
The central unit may hold at most D + L + C - 1 broadcasts per PE between
issue and dequeue (credits; the queue has that many slots), so no queue
overflows and depth D is the slack a PE gets beyond the broadcast pipeline.
"""

import dataclasses

import numpy as np

from ..sw.image import Image

__all__ = ["Timing", "TIMING", "LayerCycles", "CycleReport", "layer_cycles", "simulate",
           "column_entry_counts"]


@dataclasses.dataclass(frozen=True)
class Timing:
    start: int = 0            # start pulse -> first layer's setup (not counted)
    setup: int = 18           # descriptor read and codebook copy (hw/eie/control.py)
    init_tail: int = 1        # bias preload: out_local cycles + this
    bcast_latency: int = 4    # issue at T -> dequeue possible at T + 4
    credit_latency: int = 1   # dequeue at P -> the freed slot can be issued at P + 1
    mac_latency: int = 3      # entry issued at e -> accumulator written at e + 3
    compute_tail: int = 1     # first all-idle cycle -> write-back
    wb_tail: int = 1          # write-back: out_local cycles + this
    done: int = 0             # last write-back -> done


TIMING = Timing()


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


def layer_cycles(counts, fifo_depth, timing=TIMING):
    """Compute phase of one layer. counts: (N, B) entries per PE per broadcast,
    in broadcast order. Returns (compute cycles, bcast stall cycles, busy)."""
    n_pes, n_b = counts.shape
    t = timing
    L, C = t.bcast_latency, t.credit_latency
    D = fifo_depth + L + C - 1        # queue slots: the slack asked for + in-flight broadcasts
    busy = counts.sum(axis=1)
    if n_b == 0:
        return t.compute_tail, 0, busy
    NEG = -(1 << 40)
    pop = np.full(n_pes, NEG, dtype=np.int64)
    until = np.full(n_pes, NEG, dtype=np.int64)
    last = np.full(n_pes, NEG, dtype=np.int64)        # last activity per PE
    max_pop = np.empty(n_b, dtype=np.int64)
    prev_t = -1
    stall = 0
    for b in range(n_b):
        tb = prev_t + 1
        if b >= D:
            tb = max(tb, int(max_pop[b - D]) + C)
        stall += tb - (prev_t + 1)
        n = counts[:, b]
        nz = n > 0
        p = np.maximum(tb + L, pop + 1)
        p = np.where(nz, np.maximum(p, until), p)
        until = np.where(nz, p + n, until)
        last = np.maximum(last, np.where(nz, p + n - 1 + t.mac_latency, p))
        pop = p
        max_pop[b] = p.max()
        prev_t = tb
    end = int(last.max()) + 1
    return end + t.compute_tail, stall, busy


def simulate(image, x, *, fifo_depth, timing=TIMING, layer_inputs=None):
    """Cycle model of running `image` on int16 input vector x (n_in,).
    layer_inputs: the int16 input of each layer (computed with the golden
    model when not given)."""
    if layer_inputs is None:
        from .eie_golden import image_forward
        decoded = image.decode()
        outs = image_forward(decoded, x, frac=image.params.frac,
                             acc_width=image.params.acc_width, all_layers=True)
        layer_inputs = [np.asarray(x)] + outs[:-1]
    t = timing
    n = image.params.n_pes
    layers = []
    total = t.start
    for li, layer in enumerate(image.layers):
        a = np.asarray(layer_inputs[li]).astype(np.int64)
        cols = np.flatnonzero(a)
        counts = column_entry_counts(image, li)[:, cols]
        compute, stall, busy = layer_cycles(counts, fifo_depth, t)
        lc = LayerCycles(layer.name, t.setup, layer.out_local + t.init_tail, compute,
                         layer.out_local + t.wb_tail, len(cols), stall, busy,
                         compute - busy)
        layers.append(lc)
        total += lc.total
    total += t.done
    return CycleReport(layers, total)
