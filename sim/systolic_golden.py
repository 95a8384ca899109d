"""Bit-exact numpy model of the systolic matrix unit: the specification.

Arithmetic (docs/systolic.md, "Arithmetic"):

- activations and weights are signed in_width-bit integers (int8 by default);
- products and sums are exact and wrap modulo 2**acc_width (int32 by default;
  with int8 operands a wrap needs K > 2**17 terms);
- a convolution is the same sums over its kernel window (conv2d_acc, as
  PyTorch's conv2d without bias), requantised the same way;
- requantisation of an accumulator a with multiplier M (1 <= M < 2**mult_width)
  and shift S (0 <= S < acc_width + mult_width):

      v = max(a, 0) if relu else a
      y = clamp(floor((v * M + 2**(S-1)) / 2**S), -2**(w-1), 2**(w-1) - 1)

  (for S = 0: y = clamp(v * M)). That is round to nearest, ties towards
  +infinity ("round half up": 2.5 -> 3, -2.5 -> -2), then saturation to the
  signed w = in_width bits. As M > 0, ReLU before or after requantising
  gives the same result.

`Machine` executes programs of the unit's instruction set on numpy copies of
its memories; the RTL must leave the same memory contents.
"""

import collections

import numpy as np

from ..hw.systolic.isa import Instr, decode

__all__ = ["wrap", "matmul_acc", "requantize", "dense_layer", "conv2d_acc", "conv2d_layer",
           "forward", "Machine", "MachineError"]


class MachineError(RuntimeError):
    """A program that the unit would reject (error status) or that touches
    memory that does not exist."""


def wrap(x, width):
    """Two's-complement wrap of integer array x to `width` bits (int64 result
    for width <= 64)."""
    x = np.asarray(x)
    if width >= 64:
        return x.astype(np.int64)
    if x.dtype == object:
        m = 1 << width
        h = 1 << (width - 1)
        return np.array([((int(v) + h) % m) - h for v in x.ravel()], dtype=np.int64).reshape(x.shape)
    x = x.astype(np.int64)
    h = np.int64(1) << np.int64(width - 1)
    return ((x + h) & ((h << np.int64(1)) - np.int64(1))) - h


def matmul_acc(x, w, acc_width=32):
    """(M, K) @ (K, N) of integers, exact, wrapped to acc_width bits."""
    x = np.asarray(x, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    return wrap(x @ w, acc_width)


def requantize(acc, mult, shift, relu=False, out_width=8):
    """The activation unit: ReLU (optional), multiply, round half up, shift,
    saturate to signed out_width bits. Exact for any widths (Python ints when
    the product could exceed int64)."""
    acc = np.asarray(acc, dtype=np.int64)
    mult, shift = int(mult), int(shift)
    if mult < 1:
        raise ValueError(f"requantisation multiplier must be positive, got {mult}")
    if shift < 0:
        raise ValueError(f"requantisation shift must be >= 0, got {shift}")
    v = np.maximum(acc, 0) if relu else acc
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    amax = int(np.max(np.abs(v))) if v.size else 0
    if amax.bit_length() + mult.bit_length() + 1 < 63:
        p = v * np.int64(mult)
        if shift > 0:
            p = (p + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)
        return np.clip(p, lo, hi).astype(np.int64)
    half = (1 << (shift - 1)) if shift > 0 else 0
    out = [min(max((int(a) * mult + half) >> shift, lo), hi) for a in v.ravel()]
    return np.array(out, dtype=np.int64).reshape(v.shape)


def dense_layer(x, w, mult, shift, relu=False, in_width=8, acc_width=32):
    """One layer as the unit computes it: requantize(x @ w)."""
    return requantize(matmul_acc(x, w, acc_width), mult, shift, relu, in_width)


def conv2d_acc(x, w, stride=1, padding=0, acc_width=32):
    """2-D cross-correlation as PyTorch's conv2d computes it (no bias), exact
    and wrapped to acc_width bits: x (N, C, H, W), w (O, C, kh, kw) ->
    (N, O, Ho, Wo), out[n, o, y, x] = sum over c, ky, kx of
    x_padded[n, c, y * stride + ky, x * stride + kx] * w[o, c, ky, kx]."""
    x = np.pad(np.asarray(x, dtype=np.int64),
               ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    w = np.asarray(w, dtype=np.int64)
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, o, ho, wo), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = x[:, :, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx])
    return wrap(out, acc_width)


def conv2d_layer(x, w, mult, shift, relu=False, stride=1, padding=0, in_width=8, acc_width=32):
    """One convolution as the unit computes it: requantize(conv2d_acc(x, w)), NCHW."""
    return requantize(conv2d_acc(x, w, stride, padding, acc_width), mult, shift, relu, in_width)


def forward(x, layers, in_width=8, acc_width=32, raw_last=False):
    """A chain of layers as the unit computes them. A layer has weight, mult,
    shift, relu; a convolution also stride, padding and layout ("NCHW" or
    "NHWC", of the tensors it takes and gives), its weight (O, C, kh, kw);
    a dense layer's weight is (in, out), and after a convolution it takes
    the tensor flattened in that convolution's layout. raw_last: the last
    layer's accumulators, not requantised. Returns the last layer's output
    (matrix, or tensor in its layout)."""
    ref = np.asarray(x, dtype=np.int64)
    layout = None                  # of `ref` when it is a convolution's tensor (held as NCHW)
    for li, l in enumerate(layers):
        if hasattr(l, "stride"):
            if layout is None and l.layout == "NHWC":
                ref = ref.transpose(0, 3, 1, 2)
            acc = conv2d_acc(ref, l.weight, l.stride, l.padding, acc_width)
            layout = l.layout
        else:
            if layout is not None:
                ref = (ref.transpose(0, 2, 3, 1) if layout == "NHWC" else ref).reshape(len(ref), -1)
                layout = None
            acc = matmul_acc(ref, l.weight, acc_width)
        if raw_last and li == len(layers) - 1:
            ref = acc
        else:
            ref = requantize(acc, l.mult, l.shift, l.relu, in_width)
    return ref.transpose(0, 2, 3, 1) if layout == "NHWC" else ref


class Machine:
    """The unit's architectural state and the effect of each instruction.

    Memories are int64 arrays: ub (ub_depth, max(R, C)), acc (acc_depth, C),
    wmem (wmem_depth, C). `host` is called as host(machine, instr) at RHM and
    WHM (the points where the real unit pauses for the host)."""

    def __init__(self, params):
        self.p = params
        self.ub = np.zeros((params.ub_depth, params.ub_lanes), dtype=np.int64)
        self.acc = np.zeros((params.acc_depth, params.cols), dtype=np.int64)
        self.wmem = np.zeros((params.wmem_depth, params.cols), dtype=np.int64)
        self.tiles = collections.deque()
        self.mult, self.shift = 1, 0
        self.halted = False
        self.issued = 0

    def write(self, memory, base, rows):
        """Host write of rows (n, lanes) into "ub", "acc" or "wmem" from row
        `base` (lanes past the given ones keep their contents)."""
        rows = np.asarray(rows, dtype=np.int64)
        mem = {"ub": self.ub, "acc": self.acc, "wmem": self.wmem}[memory]
        mem[base: base + rows.shape[0], : rows.shape[1]] = rows

    def read(self, memory, base, n):
        return {"ub": self.ub, "acc": self.acc, "wmem": self.wmem}[memory][base: base + n].copy()

    def _range(self, what, start, n, depth, ins):
        if start + n > depth:
            raise MachineError(f"{ins}: {what} rows {start}..{start + n - 1} do not exist "
                               f"(depth {depth})")

    def step(self, ins, host=None):
        p = self.p
        if isinstance(ins, int):
            ins = decode(ins)
        op = ins.op
        if op in ("MMUL", "ACT", "RHM", "WHM") and ins.n == 0:
            raise MachineError(f"{ins}: n=0 is an illegal instruction")
        if op == "NOP":
            pass
        elif op == "HALT":
            self.halted = True
        elif op == "SETQ":
            if ins.mult < 1 or ins.mult >= (1 << p.mult_width) or ins.shift > p.max_shift:
                raise MachineError(f"{ins}: out of range for mult_width={p.mult_width} "
                                   f"(multiplier 1..{(1 << p.mult_width) - 1}, shift 0..{p.max_shift})")
            self.mult, self.shift = ins.mult, ins.shift
        elif op == "RW":
            self._range("weight-memory", ins.a, p.rows, p.wmem_depth, ins)
            if len(self.tiles) == 2:
                raise MachineError(f"{ins}: both weight banks hold tiles no MMUL has used")
            self.tiles.append(self.wmem[ins.a: ins.a + p.rows].copy())
        elif op == "MMUL":
            self._range("unified-buffer", ins.a, ins.n, p.ub_depth, ins)
            self._range("accumulator", ins.b, ins.n, p.acc_depth, ins)
            if not self.tiles:
                raise MachineError(f"{ins}: no weight tile loaded (RW) for this MMUL")
            tile = self.tiles.popleft()
            x = self.ub[ins.a: ins.a + ins.n, : p.rows]
            prod = x @ tile
            old = self.acc[ins.b: ins.b + ins.n] if ins.accumulate else 0
            self.acc[ins.b: ins.b + ins.n] = wrap(old + prod, p.acc_width)
        elif op == "ACT":
            self._range("accumulator", ins.a, ins.n, p.acc_depth, ins)
            self._range("unified-buffer", ins.b, ins.n, p.ub_depth, ins)
            if ins.lane % p.cols or ins.lane + p.cols > p.ub_lanes:
                raise MachineError(f"{ins}: lanes {ins.lane}..{ins.lane + p.cols - 1} are not a "
                                   f"block of {p.cols} of the {p.ub_lanes} unified-buffer lanes")
            y = requantize(self.acc[ins.a: ins.a + ins.n], self.mult, self.shift, ins.relu,
                           p.in_width)
            self.ub[ins.b: ins.b + ins.n, ins.lane: ins.lane + p.cols] = y
        elif op in ("RHM", "WHM"):
            self._range("unified-buffer", ins.a, ins.n, p.ub_depth, ins)
            if host is not None:
                host(self, ins)
        self.issued += 1

    def run(self, program, host=None, max_steps=10_000_000):
        """Execute from instruction 0 until HALT."""
        words = [i if isinstance(i, Instr) else decode(i) for i in program]
        pc = 0
        steps = 0
        while not self.halted:
            if pc >= len(words):
                raise MachineError(f"program ran off its end at instruction {pc} without HALT")
            self.step(words[pc], host)
            pc += 1
            steps += 1
            if steps > max_steps:
                raise MachineError("program did not halt")
        return self
