"""Compile matmuls and chains of dense layers into systolic-unit programs.

A layer is Y = requant(X @ W) with X (M x K) int8, W (K x N) int8. The
compiler tiles it onto the R x C array (docs/systolic.md, "Compiler"):

- K is cut into k-tiles of kt <= R rows, N into n-tiles of nt <= C columns;
  weight tile (i, j) = W[i*kt:(i+1)*kt, j*nt:(j+1)*nt], zero-padded to R x C,
  sits in weight-memory rows base + (j*nk + i)*R ..;
- X sits in the unified buffer as k-tiles: row x_base + i*M + m holds
  X[m, i*kt:(i+1)*kt] in lanes 0..kt-1; Y is written the same way as
  n-tiles (row y_base + j*M + m, lanes 0..nt-1), so a layer's output is the
  next layer's input when nt = the next layer's kt; with R a multiple of C
  or larger (R >= C), Q = R // C n-tiles of C lanes share a row (ACT
  lane=(j % Q) * C), so the next layer's k-tiles are Q * C wide: the widths
  between chained layers are Q * C (R < C: R);
- for every n-tile, MMULs over the k-tiles (the first overwrites, the rest
  add) into an accumulator region, then one ACT; regions alternate between
  two halves of the accumulators so one n-tile's ACT overlaps the next
  n-tile's MMULs; M is cut into chunks that fit a region;
- weight tiles are loaded (RW) `prefetch` MMULs ahead, so the next tile
  shifts in while the current one computes.
"""

import dataclasses

import numpy as np

from ...hw.systolic.isa import Instr, FLAG_ACCUMULATE, FLAG_RELU
from ...hw.systolic.params import SystolicParams
from .assembler import Program, check_quant
from .errors import SystolicError, CapacityError, QuantError

__all__ = ["Layer", "Conv2d", "Compiled", "HostGather", "compile_layers", "compile_matmul",
           "quant_from_scale", "pack_tiles", "unpack_tiles", "weight_tile", "fit_params",
           "conv_output_hw", "im2col_index"]


@dataclasses.dataclass
class Layer:
    weight: np.ndarray          # (K, N) signed in_width-bit integers
    mult: int = 1
    shift: int = 0
    relu: bool = False
    name: str = ""


@dataclasses.dataclass
class Conv2d:
    """A 2-D convolution (cross-correlation, as PyTorch's conv2d) with
    requantisation: Y = requant(conv(X, W)), lowered to the matmul
    (M * Ho * Wo x kh * kw * Cin) @ (kh * kw * Cin x Cout) by im2col: row
    (n, y, x) of the left matrix holds the input patch at output position
    (y, x), ordered (ky, kx, c), zeros where the padding is; the weight matrix
    row (ky, kx, c) column o holds weight[o, c, ky, kx]. The output matrix's
    row (n, y, x) holds the Cout channels of one output position.

    weight: (Cout, Cin, kh, kw) signed in_width-bit integers (either layout);
    layout: "NCHW" or "NHWC", of the tensors this layer takes and gives
    (and the flatten order of a dense layer after it); input_hw: (H, W) of
    the input, needed on the first layer of a chain (later layers take it
    from the layer before)."""
    weight: np.ndarray
    stride: int = 1
    padding: int = 0
    mult: int = 1
    shift: int = 0
    relu: bool = False
    layout: str = "NCHW"
    name: str = ""
    input_hw: tuple = None


def conv_output_hw(h, w, kh, kw, stride, padding):
    """(Ho, Wo) of a convolution."""
    return (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1


def im2col_index(n, c, h, w, kh, kw, stride, padding):
    """Flat indices into the matrix of an (n, c, h, w) activation (row
    (n, y, x), column c, row-major) of each element of its im2col matrix
    (row (n, yo, xo), column (ky, kx, c)); -1 where the padding is."""
    ho, wo = conv_output_hw(h, w, kh, kw, stride, padding)
    nn, yo, xo, ky, kx, cc = np.meshgrid(np.arange(n), np.arange(ho), np.arange(wo), np.arange(kh),
                                         np.arange(kw), np.arange(c), indexing="ij")
    yi = yo * stride + ky - padding
    xi = xo * stride + kx - padding
    ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    src = ((nn * h + yi) * w + xi) * c + cc
    return np.where(ok, src, -1).reshape(n * ho * wo, kh * kw * c)


def flatten_index(n, c, h, w, layout):
    """Flat indices into the matrix of an (n, c, h, w) activation (row
    (n, y, x), column c) of each element of its flattened form (row n, the
    features in `layout` order: (c, y, x) for NCHW, (y, x, c) for NHWC)."""
    nn, cc, yy, xx = np.meshgrid(np.arange(n), np.arange(c), np.arange(h), np.arange(w), indexing="ij")
    src = ((nn * h + yy) * w + xx) * c + cc            # (n, c, h, w) order
    if layout == "NHWC":
        src = src.transpose(0, 2, 3, 1)
    return src.reshape(n, c * h * w)


@dataclasses.dataclass
class Stage:
    """One layer as the matmul the unit runs: (m x k) @ (k x n)."""
    layer: Layer                # weight matrix (k, n) and requantisation
    m: int
    k: int
    n: int
    gather: np.ndarray          # (m, k) indices into the previous stage's output matrix, or None
    out_tensor: tuple = None    # (N, C, H, W, layout) when the output is a convolution's
    gather0: np.ndarray = None  # first layer, a convolution: im2col indices into the input tensor

    @property
    def weight(self):
        return self.layer.weight


@dataclasses.dataclass
class HostGather:
    """What the host does at an RHM between layers: the previous layer's
    output matrix (unified-buffer region `src`) gathered by `index` into the
    next layer's input matrix (region `dst`)."""
    src: "Region"
    dst: "Region"
    index: np.ndarray           # (dst.m, dst.cols) flat indices into the src matrix, -1: zero

    def apply(self, src_rows, lanes):
        """dst region rows (dst.rows, lanes) from src region rows."""
        a = unpack_tiles(np.asarray(src_rows), self.src.m, self.src.cols, self.src.width).ravel()
        b = np.where(self.index >= 0, a[np.maximum(self.index, 0)], 0)
        return pack_tiles(b, self.dst.width, lanes)


@dataclasses.dataclass
class Region:
    """Where a matrix lives: `memory` rows base .. base + tiles*m - 1, tile t
    of width `width` lanes at base + t*m."""
    memory: str                 # "ub" or "acc"
    base: int
    m: int
    cols: int                   # matrix columns (K of an input, N of an output)
    width: int                  # lanes per tile

    @property
    def tiles(self):
        return -(-self.cols // self.width)

    @property
    def rows(self):
        return self.tiles * self.m


@dataclasses.dataclass
class Compiled:
    params: SystolicParams
    program: Program
    layers: list
    m: int
    x: Region                   # where the input goes (unified buffer)
    y: Region                   # where the result is read (unified buffer, or accumulators)
    wmem: dict                  # weight-memory base row -> (rows, C) array
    prefetch: int
    useful_macs: int
    stages: list = None         # Stage per layer
    host_steps: list = None     # HostGather per RHM, in program order

    @property
    def input_shape(self):
        """The input the program takes: (M, K), or a convolution's tensor."""
        first = self.layers[0]
        if isinstance(first, Conv2d):
            h, w = first.input_hw
            c = first.weight.shape[1]
            return (self.m, c, h, w) if first.layout == "NCHW" else (self.m, h, w, c)
        return (self.m, self.x.cols)

    def input_matrix(self, x):
        """The first layer's left matrix for input x (im2col of a convolution's)."""
        first = self.layers[0]
        if not isinstance(first, Conv2d):
            x = _as_int_matrix(x, "input", self.params.in_width)
            if x.shape != (self.m, self.x.cols):
                raise SystolicError(f"input has shape {x.shape}; the program was compiled for "
                                    f"{(self.m, self.x.cols)}")
            return x
        x = _as_int_tensor(x, "input", self.params.in_width)
        if x.shape != self.input_shape:
            raise SystolicError(f"input has shape {x.shape}; the program was compiled for "
                                f"{self.input_shape} ({first.layout})")
        if first.layout == "NCHW":
            x = x.transpose(0, 2, 3, 1)
        n, h, w, c = x.shape
        idx = self.stages[0].gather0
        flat = x.reshape(-1)
        return np.where(idx >= 0, flat[np.maximum(idx, 0)], 0)

    def pack_input(self, x):
        return pack_tiles(self.input_matrix(x), self.x.width, self.params.ub_lanes)

    def unpack_output(self, rows):
        """The result read back: the last layer's output matrix, or the
        convolution's output tensor in its layout."""
        lanes = self.params.ub_lanes if self.y.memory == "ub" else self.params.cols
        rows = np.asarray(rows).reshape(self.y.rows, lanes)
        y = unpack_tiles(rows, self.y.m, self.y.cols, self.y.width)
        t = self.stages[-1].out_tensor if self.stages else None
        if t is None:
            return y
        n, c, h, w, layout = t
        y = y.reshape(n, h, w, c)
        return y.transpose(0, 3, 1, 2) if layout == "NCHW" else y

    def machine_host(self):
        """A host callback for the golden Machine that does the host steps at RHM."""
        steps = list(self.host_steps or [])
        lanes = self.params.ub_lanes

        def host(machine, ins):
            if ins.op != "RHM":
                return
            step = steps.pop(0)
            assert (ins.a, ins.n) == (step.dst.base, step.dst.rows)
            src = machine.read("ub", step.src.base, step.src.rows)
            machine.write("ub", step.dst.base, step.apply(src, lanes))
        return host

    def memory_writes(self, x):
        """[(memory, base row, rows array)] that load the program, its weights
        and input `x` into the unit."""
        writes = [("imem", 0, np.array(self.program.words(), dtype=np.uint64).reshape(-1, 1))]
        for base, rows in sorted(self.wmem.items()):
            writes.append(("wmem", base, rows))
        writes.append(("ub", self.x.base, self.pack_input(x)))
        return writes

    def output_read(self):
        """(memory, base row, rows) holding the result."""
        return (self.y.memory, self.y.base, self.y.rows)


def _as_int_matrix(a, what, width):
    a = np.asarray(a)
    if a.ndim != 2:
        raise SystolicError(f"{what} must be a 2-D matrix, got shape {a.shape}")
    if a.dtype.kind not in "iub":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise SystolicError(f"{what} must hold integers, got dtype {a.dtype}")
    a = a.astype(np.int64)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if a.size and (a.min() < lo or a.max() > hi):
        bad = np.argwhere((a < lo) | (a > hi))[0]
        raise SystolicError(f"{what}[{bad[0]}, {bad[1]}] = {a[tuple(bad)]} is outside the signed "
                            f"{width}-bit range {lo}..{hi}")
    return a


def _as_int_tensor(a, what, width, ndim=4):
    a = np.asarray(a)
    if a.ndim != ndim:
        raise SystolicError(f"{what} must be a {ndim}-D tensor, got shape {a.shape}")
    m = _as_int_matrix(a.reshape(a.shape[0], -1), what, width)
    return m.reshape(a.shape)


def _lower(m, layers, p, output):
    """Each layer as a Stage: its matmul, and the gather that makes its input
    from the previous layer's output where they differ."""
    stages = []
    cur = None          # (n, c, h, w, layout) after a convolution, else None
    for li, l in enumerate(layers):
        name = l.name or f"layer {li}"
        last = li == len(layers) - 1
        if isinstance(l, Conv2d):
            w = _as_int_tensor(l.weight, f"{name} weight", p.in_width)
            o, cin, kh, kw = w.shape
            for what, v, lo in (("stride", l.stride, 1), ("padding", l.padding, 0)):
                if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                    raise SystolicError(f"{name}: {what} must be an integer >= {lo}, got {v!r}")
            if l.layout not in ("NCHW", "NHWC"):
                raise SystolicError(f"{name}: layout must be 'NCHW' or 'NHWC', got {l.layout!r}")
            if stages and cur is None:
                raise SystolicError(f"{name}: a convolution cannot follow a dense layer")
            if cur is None:
                if l.input_hw is None:
                    raise SystolicError(f"{name}: the first convolution needs input_hw=(H, W)")
                h, wd = (int(v) for v in l.input_hw)
            else:
                _, c_prev, h, wd, _ = cur
                if c_prev != cin:
                    raise SystolicError(f"{name}: weight takes {cin} input channels but the previous "
                                        f"layer gives {c_prev}")
                if l.input_hw is not None and tuple(l.input_hw) != (h, wd):
                    raise SystolicError(f"{name}: input_hw {tuple(l.input_hw)} but the previous "
                                        f"layer gives {(h, wd)}")
            ho, wo = conv_output_hw(h, wd, kh, kw, int(l.stride), int(l.padding))
            if ho < 1 or wo < 1:
                raise SystolicError(f"{name}: a {kh} x {kw} kernel (padding {l.padding}) does not fit "
                                    f"a {h} x {wd} input")
            idx = im2col_index(m, cin, h, wd, kh, kw, int(l.stride), int(l.padding))
            wm = w.transpose(2, 3, 1, 0).reshape(kh * kw * cin, o)
            st = Stage(Layer(wm, l.mult, l.shift, l.relu, name), m * ho * wo, kh * kw * cin, o,
                       idx if stages else None, (m, o, ho, wo, l.layout))
            if not stages:
                st.gather0 = idx            # applied by the host to the input tensor
            cur = (m, o, ho, wo, l.layout)
        else:
            w = _as_int_matrix(l.weight, f"{name} weight", p.in_width)
            gather = None
            if cur is not None:
                n_, c, h, wd, layout = cur
                if w.shape[0] != c * h * wd:
                    raise SystolicError(f"{name}: weight has {w.shape[0]} rows but the previous "
                                        f"convolution gives {c} x {h} x {wd} = {c * h * wd} features")
                gather = flatten_index(m, c, h, wd, layout)
            elif stages and w.shape[0] != stages[-1].n:
                raise SystolicError(f"{name}: weight has {w.shape[0]} rows but the previous layer "
                                    f"gives {stages[-1].n} outputs")
            st = Stage(Layer(w, l.mult, l.shift, l.relu, name), m, w.shape[0], w.shape[1], gather)
            cur = None
        if output == "int8" or not last:
            check_quant(l.mult, l.shift, p, f"{name} requantisation")
        stages.append(st)
    return stages


def pack_tiles(a, width, lanes):
    """(M, K) -> (ceil(K/width) * M, lanes): row t*M + m holds a[m, t*width:(t+1)*width]."""
    m, k = a.shape
    tiles = -(-k // width)
    out = np.zeros((tiles * m, lanes), dtype=np.int64)
    for t in range(tiles):
        part = a[:, t * width:(t + 1) * width]
        out[t * m:(t + 1) * m, :part.shape[1]] = part
    return out


def unpack_tiles(rows, m, n, width):
    """Inverse of pack_tiles for an (M, N) matrix."""
    tiles = -(-n // width)
    out = np.zeros((m, n), dtype=np.int64)
    for t in range(tiles):
        w = min(width, n - t * width)
        out[:, t * width:t * width + w] = rows[t * m:(t + 1) * m, :w]
    return out


def inner_width(params):
    """The tile width between chained layers: Q * C lanes (Q = R // C n-tiles
    of C lanes in a unified-buffer row, each ACT writing its block) when
    R >= C, else R."""
    p = params
    return (p.rows // p.cols) * p.cols if p.rows >= p.cols else p.rows


def out_tile(width, params):
    """(nt, Q): the n-tile width and the n-tiles per unified-buffer row of an
    output region `width` lanes wide (wider than C: blocks of C)."""
    nt = min(width, params.cols)
    return nt, width // nt


def weight_tile(w, i, j, kt, nt, params):
    """Tile (i, j) of W (K, N) as the (R, C) block the array holds."""
    tile = np.zeros((params.rows, params.cols), dtype=np.int64)
    part = w[i * kt:(i + 1) * kt, j * nt:(j + 1) * nt]
    tile[:part.shape[0], :part.shape[1]] = part
    return tile


def quant_from_scale(scale, params):
    """The (multiplier, shift) closest to a real requantisation scale, with
    the multiplier as wide as mult_width allows."""
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise QuantError(f"requantisation scale must be a positive number, got {scale}")
    top = (1 << params.mult_width) - 1
    shift = 0
    while shift < params.max_shift and round(scale * (1 << (shift + 1))) <= top:
        shift += 1
    mult = int(round(scale * (1 << shift)))
    if mult > top:
        raise QuantError(f"requantisation scale {scale} needs a multiplier above {top} "
                         f"(mult_width={params.mult_width})")
    if mult < 1:
        raise QuantError(f"requantisation scale {scale} is below what shift <= {params.max_shift} "
                         f"can express")
    return mult, shift


def compile_layers(m, layers, params, *, output="int8", prefetch=None, widths=None):
    """Compile a chain of layers for a batch of M inputs.

    layers: Layer (dense: Y = requant(X @ W)) and Conv2d (lowered by im2col,
    see Conv2d). With dense layers only, X is (M, K) and the layers chain in
    the unified buffer; a Conv2d takes X as an (M, C, H, W) (NCHW) or
    (M, H, W, C) (NHWC) tensor, and before every layer whose input is not
    the previous layer's output matrix as it stands (a convolution after
    anything, a dense layer after a convolution: the flatten) the program
    pauses at RHM while the host gathers that input from the previous
    layer's output (Compiled.host_steps, the same index arrays for every
    input): data movement only, every multiply and add runs on the unit.

    output: "int8" (requantised result in the unified buffer) or "int32"
    (the last layer's raw accumulators; no ACT for it).
    widths: tile widths between dense layers (len(layers) + 1 numbers: kt of
    layer 0, then the output tile width of each layer = kt of the next; an
    output wider than C is blocks of C lanes, one n-tile each); default R,
    inner_width ..., C. Dense layers only.
    prefetch: RW instructions ahead of their MMUL (1 or 2); default 2 when
    the M rows of a chunk are fewer than R (weight loading dominates),
    else 1."""
    p = params
    if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or m < 1:
        raise SystolicError(f"batch size M must be a positive integer, got {m!r}")
    m = int(m)
    if not layers:
        raise SystolicError("no layers to compile")
    if output not in ("int8", "int32"):
        raise SystolicError(f"output must be 'int8' or 'int32', got {output!r}")
    layers = [l if isinstance(l, (Layer, Conv2d)) else Layer(*l) for l in layers]
    stages = _lower(m, layers, p, output)
    nl = len(stages)
    convs = any(isinstance(l, Conv2d) for l in layers)
    if widths is not None and convs:
        raise SystolicError("widths applies to chains of dense layers only")
    # -- segments: runs of stages that chain in the unified buffer as they are
    segs = []
    for si, st in enumerate(stages):
        if si == 0 or st.gather is not None:
            segs.append([])
        segs[-1].append(si)
    inner = inner_width(p)
    if widths is None:
        seg_widths = [[p.rows] + [inner] * (len(seg) - 1) + [p.cols] for seg in segs]
    else:
        if len(widths) != nl + 1:
            raise SystolicError(f"widths needs {nl + 1} numbers, got {len(widths)}")
        for k, wd in enumerate(widths):
            lim = p.rows if k == 0 else p.cols if k == nl else max(inner, min(p.rows, p.cols))
            if not 1 <= wd <= lim or (0 < k < nl and wd > p.cols and wd % p.cols):
                raise SystolicError(f"tile width {wd} at position {k} must be in 1..{lim}"
                                    + (f" (above {p.cols} a multiple of it)" if 0 < k < nl and
                                       lim > p.cols else ""))
        seg_widths = [list(widths)]

    raw = output == "int32"
    # -- unified buffer: per segment its input region, then one region per layer output
    ub_next = 0
    seg_regions = []
    for seg, wds in zip(segs, seg_widths):
        first = stages[seg[0]]
        r = Region("ub", ub_next, first.m, first.k, wds[0])
        regions = [r]
        ub_next += r.rows
        for j, si in enumerate(seg):
            if raw and si == nl - 1:
                break
            r = Region("ub", ub_next, stages[si].m, stages[si].n, wds[j + 1])
            regions.append(r)
            ub_next += r.rows
        seg_regions.append(regions)
    if ub_next > p.ub_depth:
        what = "input and layer outputs" if len(segs) == 1 else "inputs, gathered inputs and layer outputs"
        raise CapacityError(f"unified buffer: {what} need {ub_next} rows, the "
                            f"unit has {p.ub_depth} (overflow {ub_next - p.ub_depth})")
    # -- weight memory
    wmem = {}
    tile_base = []
    wnext = 0
    for seg, wds in zip(segs, seg_widths):
        for j, si in enumerate(seg):
            w = stages[si].weight
            kt, nt = wds[j], out_tile(wds[j + 1], p)[0]
            nk, nn = -(-w.shape[0] // kt), -(-w.shape[1] // nt)
            bases = {}
            for jj in range(nn):
                for i in range(nk):
                    bases[i, jj] = wnext
                    wmem[wnext] = weight_tile(w, i, jj, kt, nt, p)
                    wnext += p.rows
            tile_base.append(bases)
    if wnext > p.wmem_depth:
        raise CapacityError(f"weight memory: {sum(len(b) for b in tile_base)} tiles of {p.rows} rows "
                            f"need {wnext} rows, the unit has {p.wmem_depth} "
                            f"(overflow {wnext - p.wmem_depth})")
    # -- accumulators
    if raw:
        last = stages[-1]
        nn_last = -(-last.n // seg_widths[-1][-1])
        need = nn_last * last.m
        if need > p.acc_depth:
            raise CapacityError(f"accumulators: an int32 result of {last.m} x {last.n} needs "
                                f"{need} rows, the unit has {p.acc_depth} (overflow {need - p.acc_depth})")
    half = p.acc_depth // 2
    regions_acc = [0, half] if half >= 1 else [0]
    chunks = [min(stages[seg[0]].m, half) if half >= 1 else 1 for seg in segs]
    if prefetch is None:
        prefetch = 2 if min(chunks) < p.rows else 1
    if prefetch not in (1, 2):
        raise SystolicError(f"prefetch must be 1 or 2, got {prefetch}")

    # -- the instruction stream, before RWs are placed
    items = []
    host_steps = []
    for g, (seg, wds, regions, chunk) in enumerate(zip(segs, seg_widths, seg_regions, chunks)):
        if g:
            prev = seg_regions[g - 1][-1]
            dst = regions[0]
            items.append(("ins", None, Instr("RHM", a=dst.base, n=dst.rows)))
            host_steps.append(HostGather(prev, dst, stages[seg[0]].gather))
        shapes = [(stages[si].k, stages[si].n) for si in seg]
        seg_layers = [stages[si].layer for si in seg]
        seg_raw = raw and seg[-1] == nl - 1
        for _, _, _, build in schedule(stages[seg[0]].m, shapes, seg_layers, wds, regions, chunk,
                                       regions_acc, seg_raw, Instr, cols=p.cols):
            for kind, key, ins in build():
                if kind == "mm":
                    key = (seg[key[0]], key[1], key[2])
                items.append((kind, key, ins))
    items = [(kind, tile_base[key[0]][key[1:]] if kind == "mm" else None, ins)
             for kind, key, ins in items]
    tiles = [it[1] for it in items if it[0] == "mm"]
    prog = Program()
    for t in tiles[:prefetch]:
        prog.append(Instr("RW", a=t))
    k = 0
    for it in items:
        prog.append(it[2])
        if it[0] == "mm":
            if k + prefetch < len(tiles):
                prog.append(Instr("RW", a=tiles[k + prefetch]))
            k += 1
    prog.append(Instr("HALT"))
    if len(prog) > p.imem_depth:
        raise CapacityError(f"instruction memory: the program has {len(prog)} instructions, the "
                            f"unit holds {p.imem_depth} (overflow {len(prog) - p.imem_depth})")
    prog.check(p)
    if raw:
        last = stages[-1]
        y = Region("acc", 0, last.m, last.n, seg_widths[-1][-1])
    else:
        y = seg_regions[-1][-1]
    macs = sum(st.m * st.k * st.n for st in stages)
    return Compiled(p, prog, layers, m, seg_regions[0][0], y, wmem, prefetch, macs,
                    stages=stages, host_steps=host_steps)


def schedule(m, shapes, layers, widths, regions, chunk, regions_acc, raw, make, cols=None):
    """The compiler's instruction stream before the RWs are placed, as blocks:
    yields ((layer, first row of the chunk), MMULs in the block, build) per
    n-tile; build() returns the block's items, ("mm", (layer, i, j), MMUL)
    for weight tile (i, j) and ("ins", None, instr) for SETQ and ACT.
    `make(op, **fields)` builds an instruction (Instr, or a lighter object
    for eiegen.sw.systolic.compare, which runs the same schedule through the
    cycle model and need not build the blocks it can skip). `cols`: C, for
    outputs wider than C (blocks of C lanes written by their own ACTs)."""
    nl = len(shapes)
    q = None
    region_turn = 0
    for li, (k_dim, n_dim) in enumerate(shapes):
        kt, width = widths[li], widths[li + 1]
        nt = min(width, cols) if cols else width
        per_row = width // nt            # n-tiles side by side in a unified-buffer row
        nk, nn = -(-k_dim // kt), -(-n_dim // nt)
        src = regions[li]
        last_raw = raw and li == nl - 1
        dst = None if last_raw else regions[li + 1]
        l = layers[li]
        chunks = [(0, m)] if last_raw else [(m0, min(chunk, m - m0)) for m0 in range(0, m, chunk)]
        for m0, ml in chunks:
            for j in range(nn):
                if last_raw:
                    acc = j * m
                else:
                    acc = regions_acc[region_turn % len(regions_acc)]
                    region_turn += 1
                setq = not last_raw and q != (l.mult, l.shift)
                if setq:
                    q = (l.mult, l.shift)

                def build(li=li, j=j, m0=m0, ml=ml, acc=acc, setq=setq, last_raw=last_raw,
                          src=src, dst=dst, nk=nk, l=l, nt=nt, per_row=per_row):
                    block = [("mm", (li, i, j),
                              make("MMUL", a=src.base + i * m + m0, b=acc, n=ml,
                                   flags=FLAG_ACCUMULATE if i else 0)) for i in range(nk)]
                    if setq:
                        block.append(("ins", None, make("SETQ", mult=l.mult, shift=l.shift)))
                    if not last_raw:
                        block.append(("ins", None, make(
                            "ACT", a=acc, b=dst.base + (j // per_row) * m + m0, n=ml,
                            flags=FLAG_RELU if l.relu else 0, lane=(j % per_row) * nt)))
                    return block
                yield (li, m0), nk, setq, build


def compile_matmul(m, w, params, *, mult=1, shift=0, relu=False, output="int8", **kw):
    """One (M x K) @ (K x N) matmul; see compile_layers."""
    return compile_layers(m, [Layer(w, mult, shift, relu)], params, output=output, **kw)


def _pow2_at_least(n):
    return 1 << max(0, (int(n) - 1).bit_length())


def fit_params(m, layers, params, *, output="int8"):
    """`params` with the memory depths raised (to powers of two) where the
    layers need more: unified buffer, weight memory, instruction memory and,
    for an int32 result, accumulators. Depths already large enough stay."""
    p = params
    layers = [l if isinstance(l, Layer) else Layer(*l) for l in layers]
    ws = [np.asarray(l.weight) for l in layers]
    inner = min(p.rows, p.cols)
    widths = [p.rows] + [inner] * (len(ws) - 1) + [p.cols]
    ub = -(-ws[0].shape[0] // widths[0]) * m
    wrows = 0
    tiles = 0
    ntiles = 0
    for li, w in enumerate(ws):
        nk, nn = -(-w.shape[0] // widths[li]), -(-w.shape[1] // widths[li + 1])
        if not (output == "int32" and li == len(ws) - 1):
            ub += nn * m
        tiles += nk * nn
        ntiles += nn
        wrows += nk * nn * p.rows
    acc = p.acc_depth
    if output == "int32":
        acc = max(acc, _pow2_at_least(-(-ws[-1].shape[1] // widths[-1]) * m))
    half = max(1, min(m, acc // 2))
    chunks = -(-m // half)
    imem = 2 * (tiles + ntiles) * chunks + 8     # RW + MMUL per tile, SETQ + ACT per n-tile
    d = p.to_dict()
    d.update(ub_depth=max(p.ub_depth, _pow2_at_least(ub)), wmem_depth=max(p.wmem_depth, _pow2_at_least(wrows)),
             imem_depth=max(p.imem_depth, _pow2_at_least(imem)), acc_depth=acc)
    for k in ("ub_depth", "wmem_depth", "imem_depth", "acc_depth"):
        d[k] = min(d[k], 1 << 16)
    try:
        return SystolicParams(**d)
    except ValueError as exc:
        raise CapacityError(f"the problem does not fit any {p.rows} x {p.cols} unit: {exc}") from None
