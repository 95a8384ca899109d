"""Compile matmuls and chains of dense layers into systolic-unit programs.

A layer is Y = requant(X @ W) with X (M x K) int8, W (K x N) int8. The
compiler tiles it onto the R x C array (docs/systolic.md, "Compiler"):

- K is cut into k-tiles of kt <= R rows, N into n-tiles of nt <= C columns;
  weight tile (i, j) = W[i*kt:(i+1)*kt, j*nt:(j+1)*nt], zero-padded to R x C,
  sits in weight-memory rows base + (j*nk + i)*R ..;
- X sits in the unified buffer as k-tiles: row x_base + i*M + m holds
  X[m, i*kt:(i+1)*kt] in lanes 0..kt-1; Y is written the same way as
  n-tiles (row y_base + j*M + m, lanes 0..nt-1), so a layer's output is the
  next layer's input when nt = the next layer's kt: the compiler uses
  min(R, C) for the widths between chained layers;
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

__all__ = ["Layer", "Compiled", "compile_layers", "compile_matmul", "quant_from_scale",
           "pack_tiles", "unpack_tiles", "weight_tile", "fit_params"]


@dataclasses.dataclass
class Layer:
    weight: np.ndarray          # (K, N) signed in_width-bit integers
    mult: int = 1
    shift: int = 0
    relu: bool = False
    name: str = ""


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

    def pack_input(self, x):
        x = _as_int_matrix(x, "input", self.params.in_width)
        if x.shape != (self.m, self.x.cols):
            raise SystolicError(f"input has shape {x.shape}; the program was compiled for "
                                f"{(self.m, self.x.cols)}")
        return pack_tiles(x, self.x.width, self.params.ub_lanes)

    def unpack_output(self, rows):
        lanes = self.params.ub_lanes if self.y.memory == "ub" else self.params.cols
        rows = np.asarray(rows).reshape(self.y.rows, lanes)
        return unpack_tiles(rows, self.m, self.y.cols, self.y.width)

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
    """Compile a chain of dense layers for a batch of M input rows.

    output: "int8" (requantised result in the unified buffer) or "int32"
    (the last layer's raw accumulators; no ACT for it).
    widths: tile widths between layers (len(layers) + 1 numbers: kt of layer
    0, then nt of each layer = kt of the next); default R, min(R, C) ..., C.
    prefetch: RW instructions ahead of their MMUL (1 or 2); default 2 when
    the M rows of a chunk are fewer than R (weight loading dominates),
    else 1."""
    p = params
    if not isinstance(m, (int, np.integer)) or m < 1:
        raise SystolicError(f"batch size M must be a positive integer, got {m!r}")
    m = int(m)
    if not layers:
        raise SystolicError("no layers to compile")
    if output not in ("int8", "int32"):
        raise SystolicError(f"output must be 'int8' or 'int32', got {output!r}")
    layers = [l if isinstance(l, Layer) else Layer(*l) for l in layers]
    ws = []
    for li, l in enumerate(layers):
        name = l.name or f"layer {li}"
        w = _as_int_matrix(l.weight, f"{name} weight", p.in_width)
        if li and w.shape[0] != ws[-1].shape[1]:
            raise SystolicError(f"{name}: weight has {w.shape[0]} rows but the previous layer "
                                f"gives {ws[-1].shape[1]} outputs")
        if output == "int8" or li < len(layers) - 1:
            check_quant(l.mult, l.shift, p, f"{name} requantisation")
        ws.append(w)
    nl = len(layers)
    if widths is None:
        inner = min(p.rows, p.cols)
        widths = [p.rows] + [inner] * (nl - 1) + [p.cols]
    if len(widths) != nl + 1:
        raise SystolicError(f"widths needs {nl + 1} numbers, got {len(widths)}")
    for k, wd in enumerate(widths):
        lim = min(p.rows if k < nl else p.cols, p.cols if k > 0 else p.rows)
        if not 1 <= wd <= lim:
            raise SystolicError(f"tile width {wd} at position {k} must be in 1..{lim}")

    raw = output == "int32"
    # -- unified buffer
    x_reg = Region("ub", 0, m, ws[0].shape[0], widths[0])
    regions = [x_reg]
    ub_next = x_reg.rows
    for li in range(nl):
        if raw and li == nl - 1:
            break
        r = Region("ub", ub_next, m, ws[li].shape[1], widths[li + 1])
        regions.append(r)
        ub_next += r.rows
    if ub_next > p.ub_depth:
        raise CapacityError(f"unified buffer: input and layer outputs need {ub_next} rows, the "
                            f"unit has {p.ub_depth} (overflow {ub_next - p.ub_depth})")
    # -- weight memory
    wmem = {}
    tile_base = []
    wnext = 0
    for li, w in enumerate(ws):
        kt, nt = widths[li], widths[li + 1]
        nk, nn = -(-w.shape[0] // kt), -(-w.shape[1] // nt)
        bases = {}
        for j in range(nn):
            for i in range(nk):
                bases[i, j] = wnext
                wmem[wnext] = weight_tile(w, i, j, kt, nt, p)
                wnext += p.rows
        tile_base.append(bases)
    if wnext > p.wmem_depth:
        raise CapacityError(f"weight memory: {sum(len(b) for b in tile_base)} tiles of {p.rows} rows "
                            f"need {wnext} rows, the unit has {p.wmem_depth} "
                            f"(overflow {wnext - p.wmem_depth})")
    # -- accumulators
    if raw:
        last = ws[-1]
        nn_last = -(-last.shape[1] // widths[-1])
        need = nn_last * m
        if need > p.acc_depth:
            raise CapacityError(f"accumulators: an int32 result of {m} x {last.shape[1]} needs "
                                f"{need} rows, the unit has {p.acc_depth} (overflow {need - p.acc_depth})")
    half = p.acc_depth // 2
    if half >= 1:
        chunk = min(m, half)
        regions_acc = [0, half]
    else:
        chunk = 1
        regions_acc = [0]
    if prefetch is None:
        prefetch = 2 if chunk < p.rows else 1
    if prefetch not in (1, 2):
        raise SystolicError(f"prefetch must be 1 or 2, got {prefetch}")

    # -- the instruction stream, before RWs are placed
    shapes = [w.shape for w in ws]
    items = [it for _, _, _, build in schedule(m, shapes, layers, widths, regions, chunk,
                                               regions_acc, raw, Instr)
             for it in build()]
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
        y = Region("acc", 0, m, ws[-1].shape[1], widths[-1])
    else:
        y = regions[-1]
    macs = sum(m * w.shape[0] * w.shape[1] for w in ws)
    return Compiled(p, prog, layers, m, x_reg, y, wmem, prefetch, macs)


def schedule(m, shapes, layers, widths, regions, chunk, regions_acc, raw, make):
    """The compiler's instruction stream before the RWs are placed, as blocks:
    yields ((layer, first row of the chunk), MMULs in the block, build) per
    n-tile; build() returns the block's items, ("mm", (layer, i, j), MMUL)
    for weight tile (i, j) and ("ins", None, instr) for SETQ and ACT.
    `make(op, **fields)` builds an instruction (Instr, or a lighter object
    for eiegen.sw.systolic.compare, which runs the same schedule through the
    cycle model and need not build the blocks it can skip)."""
    nl = len(shapes)
    q = None
    region_turn = 0
    for li, (k_dim, n_dim) in enumerate(shapes):
        kt, nt = widths[li], widths[li + 1]
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
                          src=src, dst=dst, nk=nk, l=l):
                    block = [("mm", (li, i, j),
                              make("MMUL", a=src.base + i * m + m0, b=acc, n=ml,
                                   flags=FLAG_ACCUMULATE if i else 0)) for i in range(nk)]
                    if setq:
                        block.append(("ins", None, make("SETQ", mult=l.mult, shift=l.shift)))
                    if not last_raw:
                        block.append(("ins", None, make("ACT", a=acc, b=dst.base + j * m + m0,
                                                        n=ml, flags=FLAG_RELU if l.relu else 0)))
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
