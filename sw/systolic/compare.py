"""Cycles of the systolic unit running a network dense, for comparisons.

    dense_cycles(layers_shapes, rows, cols, batch=1) -> int

is what the compiler's program for a chain of dense layers takes on an
R x C unit: the program the compiler (eiegen.sw.systolic.compiler) would
emit, run through the cycle model (eiegen.sim.systolic_cycles), which the
regression tests hold equal to the RTL's cycle counter. Weights and
activations do not change the timing, so only shapes are needed, and the
memories are assumed large enough (a real unit would have to stream larger
layers in parts; that cost is not counted).

Long programs are not walked instruction by instruction: within one layer
the n-tile blocks repeat, and once the cycle model's state (relative to the
next instruction) is the same as two blocks earlier, every further pair of
blocks adds the same cycles and counters, so whole runs of pairs are added
at once. The result is the same number the full walk gives (tested).
"""

import functools

from ...hw.systolic.params import SystolicParams
from ...sim.systolic_cycles import Engine
from .compiler import Layer, Region, schedule, inner_width
from .errors import SystolicError

__all__ = ["dense_cycles", "dense_report", "layer_table"]


class _Ins:
    """A lighter stand-in for Instr: no field-width checks, so layers larger
    than a real unit's 16-bit addresses can be modelled."""
    __slots__ = ("op", "a", "b", "n", "flags", "mult", "shift", "lane")

    def __init__(self, op, a=0, b=0, n=0, flags=0, mult=0, shift=0, lane=0):
        self.op, self.a, self.b, self.n = op, a, b, n
        self.flags, self.mult, self.shift, self.lane = flags, mult, shift, lane


def _model_params(rows, cols, acc_depth, act_lanes=0, act_serial=0):
    # the cycle model reads rows, cols, the activation unit's sharing,
    # mult_width and max_shift; the depths only need to pass SystolicParams' checks
    try:
        return SystolicParams(rows=rows, cols=cols, ub_depth=1, acc_depth=acc_depth,
                              wmem_depth=rows, imem_depth=1, act_lanes=act_lanes,
                              act_serial=act_serial)
    except ValueError as exc:
        raise SystolicError(str(exc)) from None


def _check_shapes(layers_shapes):
    shapes = []
    for k, s in enumerate(layers_shapes):
        try:
            a, b = (int(v) for v in s)
        except (TypeError, ValueError):
            raise SystolicError(f"layer {k}: shape must be a pair (in_features, out_features), "
                                f"got {s!r}") from None
        if a < 1 or b < 1:
            raise SystolicError(f"layer {k}: shape {s!r} must be positive")
        if shapes and shapes[-1][1] != a:
            raise SystolicError(f"layer {k} takes {a} inputs but layer {k - 1} gives "
                                f"{shapes[-1][1]} outputs")
        shapes.append((a, b))
    if not shapes:
        raise SystolicError("no layers")
    return tuple(shapes)


@functools.lru_cache(maxsize=256)
def _report(shapes, rows, cols, batch, acc_depth, prefetch, fast, act=(0, 0)):
    p = _model_params(rows, cols, acc_depth, *act)
    m = batch
    nl = len(shapes)
    widths = [rows] + [inner_width(p)] * (nl - 1) + [cols]
    # the compiler's unified-buffer regions (addresses only matter for overlaps)
    regions = [Region("ub", 0, m, shapes[0][0], widths[0])]
    for li in range(nl):
        base = regions[-1].base + regions[-1].rows
        regions.append(Region("ub", base, m, shapes[li][1], widths[li + 1]))
    half = acc_depth // 2
    chunk, regions_acc = (min(m, half), [0, half]) if half >= 1 else (1, [0])
    if prefetch is None:
        prefetch = 2 if chunk < rows else 1
    layers = [Layer(None, 1, 0, li < nl - 1) for li in range(nl)]
    total = sum(-(-k // widths[li]) * -(-n // min(widths[li + 1], cols)) * -(-m // chunk)
                for li, (k, n) in enumerate(shapes))

    eng = Engine(p)
    for _ in range(min(prefetch, total)):
        eng.issue(_Ins("RW"))
    k = 0
    blocks = schedule(m, shapes, layers, widths, regions, chunk, regions_acc, False, _Ins, cols=cols)
    seen = {}           # signature at a block boundary -> (block index, counters)
    prev_key = None
    bi = 0
    skipped = 0
    pending = 0
    for key, nmm, setq, build in blocks:
        if pending:             # skipped blocks: only the addresses of the last one's ACT matter
            pending -= 1
            k += nmm
            bi += 1
            if not pending:
                act = build()[-1][2]
                if act.op == "ACT":
                    eng.act_ranges = (act.a, act.a + act.n, act.b, act.b + act.n)
            continue
        if key != prev_key:
            seen, prev_key = {}, key
        plain = not setq and k + nmm - 1 + prefetch < total
        for kind, _, ins in build():
            eng.issue(ins)
            if kind == "mm":
                if k + prefetch < total:
                    eng.issue(_Ins("RW"))
                k += 1
        bi += 1
        if not (fast and plain):
            seen = {}           # a repeat must span plain blocks only
            continue
        sig = eng.signature()
        if sig in seen:
            b0, c0 = seen[sig]
            period = bi - b0
            left = _plain_blocks_left(shapes, _nts(widths, cols), chunk, m, key, bi, total, k,
                                      prefetch)
            reps = left // period
            if reps:
                c1 = eng.counters()
                d = [b - a for a, b in zip(c0, c1)]
                eng.shift(reps * d[0], reps * d[1], reps * d[2], reps * d[3], reps * d[4])
                pending = reps * period
                skipped += pending
                seen = {}
                continue
        seen[sig] = (bi, eng.counters())
    eng.issue(_Ins("HALT"))
    return eng.report(), skipped


def _nts(widths, cols):
    """widths with each output width as its n-tile width (blocks of at most C)."""
    return [widths[0]] + [min(w, cols) for w in widths[1:]]


def _plain_blocks_left(shapes, widths, chunk, m, key, bi, total, k, prefetch):
    """How many of the following blocks belong to the same (layer, chunk) and
    are plain (no SETQ, an RW after every MMUL)."""
    li = key[0]
    nk = -(-shapes[li][0] // widths[li])
    nn = -(-shapes[li][1] // widths[li + 1])
    done_in_chunk = _block_in_chunk(shapes, widths, chunk, m, key, bi)
    left = nn - done_in_chunk
    # the last blocks of the program lack RWs (k + prefetch >= total)
    with_rw = max(0, (total - prefetch - k) // nk)
    return max(0, min(left, with_rw))


def _block_in_chunk(shapes, widths, chunk, m, key, bi):
    """Blocks of (layer, chunk) `key` among the first `bi` blocks."""
    li, m0 = key
    start = 0
    for lj in range(li):
        nn = -(-shapes[lj][1] // widths[lj + 1])
        start += nn * -(-m // chunk)
    nn = -(-shapes[li][1] // widths[li + 1])
    start += (m0 // chunk) * nn
    return bi - start


def dense_report(layers_shapes, rows, cols, batch=1, *, acc_depth=512, prefetch=None,
                 act_lanes=0, act_serial=0):
    """The cycle model's CycleReport (cycles, mac_active, stall, weight_stall,
    instructions) of the dense network; see dense_cycles."""
    shapes = _check_shapes(layers_shapes)
    for name, v, hi in (("rows", rows, 32), ("cols", cols, 32), ("batch", batch, None)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1 or (hi and v > hi):
            raise SystolicError(f"{name} must be an integer 1..{hi or 'any'}, got {v!r}")
    return _report(shapes, rows, cols, batch, acc_depth, prefetch, True, (act_lanes, act_serial))[0]


def dense_cycles(layers_shapes, rows, cols, batch=1, *, acc_depth=512, prefetch=None,
                 act_lanes=0, act_serial=0):
    """Cycles (start to done) the R x C systolic unit takes to run the chain
    of dense layers `layers_shapes` = [(in_features, out_features), ...]
    (layer l computes Y_l = requant(Y_{l-1} @ W_l), W_l being in x out) on
    `batch` input vectors, with the compiler's program (int8 result, ACT
    after every layer). acc_depth, prefetch, act_lanes, act_serial: as in
    the unit / compiler (defaults: 512 accumulator rows, the compiler's
    choice of prefetch, a requantiser for all columns)."""
    return dense_report(layers_shapes, rows, cols, batch, acc_depth=acc_depth,
                        prefetch=prefetch, act_lanes=act_lanes, act_serial=act_serial).cycles


def layer_table(m, layers, params):
    """Per layer of a chain (dense and Conv2d, as compile_layers takes them)
    for a batch of m: its matmul (M x K) @ (K x N) (a convolution's after
    im2col), the cycles the unit takes for that matmul alone (the cycle
    model through the compiler's schedule, as dense_cycles), its utilisation
    (useful MACs / (R * C * cycles)), and SCALE-Sim's analytic
    weight-stationary cycles and utilisation for the same matmul."""
    from .compiler import _lower
    from ...sim.systolic_cycles import scalesim_ws_cycles, utilisation
    p = params
    rows = []
    for k, (st, l) in enumerate(zip(_lower(m, list(layers), p, "int8"), layers)):
        cyc = dense_report([(st.k, st.n)], p.rows, p.cols, st.m, acc_depth=p.acc_depth,
                           act_lanes=p.act_lanes, act_serial=p.act_serial).cycles
        ss = scalesim_ws_cycles(st.m, st.k, st.n, p.rows, p.cols)
        rows.append({"layer": l.name or f"layer {k}", "kind": "conv" if st.out_tensor else "dense",
                     "M": st.m, "K": st.k, "N": st.n, "macs": st.m * st.k * st.n, "cycles": cyc,
                     "util": utilisation(st.m, st.k, st.n, p.rows, p.cols, cyc),
                     "scalesim_cycles": ss,
                     "scalesim_util": utilisation(st.m, st.k, st.n, p.rows, p.cols, ss)})
    return rows
