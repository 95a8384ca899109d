"""`eiegen systolic`: generate the systolic unit, or run a matmul through its RTL."""

import sys
import time
from pathlib import Path

import numpy as np

from ..errors import EiegenError
from ._common import add_force, int_in, systolic_param

NAME = "systolic"
HELP = "generate the TPU-style systolic unit's Verilog, or run a matmul through it"
DESCRIPTION = """\
Generate the weight-stationary systolic matrix unit, or compile a matmul
Y = requant(X @ W) for it, run the program on the generated Verilog
(cocotb, Verilator by default) and compare with the golden model.

A convolution (--conv) is lowered by im2col to the matmul
(N*Ho*Wo x kh*kw*C) @ (kh*kw*C x O): --input-shape N,C,H,W (the tensor
is given in --layout order, NCHW by default), --out-channels O, --kernel
k or kh,kw, --stride, --padding; --x is then the input tensor and --w the
weights (O, C, kh, kw).

examples:
  eiegen systolic generate --rows 8 --cols 8 -o build/systolic8x8.v
  eiegen systolic run --rows 4 --cols 4 -M 32 -K 40 -N 24 --relu
  eiegen systolic run --rows 8 --cols 8 --x x.npy --w w.npy --int32
  eiegen systolic run --rows 2 --cols 3 -M 5 -K 7 -N 4 --asm prog.s
  eiegen systolic run --rows 4 --cols 4 --conv --input-shape 2,3,8,8 --out-channels 6 \\
      --kernel 3 --stride 1 --padding 1 --relu
"""


def _add_params(p):
    g = p.add_argument_group("generator parameters")
    g.add_argument("--rows", type=systolic_param("rows"), default=8, help="array rows R (K per tile; default 8)")
    g.add_argument("--cols", type=systolic_param("cols"), default=8, help="array columns C (N per tile; default 8)")
    g.add_argument("--in-width", type=systolic_param("in_width"), default=8, help="activation/weight bits (default 8)")
    g.add_argument("--acc-width", type=systolic_param("acc_width"), default=32, help="accumulator bits (default 32)")
    g.add_argument("--mult-width", type=systolic_param("mult_width"), default=16, help="requantisation multiplier bits (default 16)")
    g.add_argument("--act-lanes", type=systolic_param("act_lanes"), default=0,
                   help="lanes the requantiser takes at a time (default 0: all columns)")
    g.add_argument("--act-serial", action="store_true",
                   help="bit-serial requantisation multiplier in logic instead of DSPs")
    for name, default in (("ub-depth", 1024), ("acc-depth", 512), ("wmem-depth", 1024), ("imem-depth", 512)):
        g.add_argument(f"--{name}", type=systolic_param(name.replace("-", "_")), default=None,
                       help=f"{name.replace('-', ' ')} (default {default}; `run` raises it to fit)")


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("generate", help="write the unit's Verilog (top module systolic_top)")
    _add_params(g)
    g.add_argument("-o", "--out", required=True, help="Verilog file to write")
    add_force(g, "Verilog file")
    r = sub.add_parser("run", help="run a matmul through the RTL and check it against the golden model",
                       description=DESCRIPTION, formatter_class=p.formatter_class)
    _add_params(r)
    r.add_argument("-M", type=int_in(1), default=None, help="rows of X (batch); random X when --x is not given")
    r.add_argument("-K", type=int_in(1), default=None, help="columns of X = rows of W")
    r.add_argument("-N", type=int_in(1), default=None, help="columns of W")
    r.add_argument("--x", help=".npy int8 matrix X (M x K)")
    r.add_argument("--w", help=".npy int8 matrix W (K x N)")
    r.add_argument("--seed", type=int_in(0), default=0, help="seed of the random matrices (default 0)")
    r.add_argument("--mult", type=int_in(), default=None, help="requantisation multiplier (default: from a scale that keeps the outputs in range)")
    r.add_argument("--shift", type=int_in(), default=None, help="requantisation shift")
    r.add_argument("--relu", action="store_true", help="ReLU before requantising")
    r.add_argument("--int32", action="store_true", help="return the raw int32 accumulators (no activation unit)")
    c = r.add_argument_group("convolution (--conv)")
    c.add_argument("--conv", action="store_true", help="run a 2-D convolution (im2col) instead of a matmul")
    c.add_argument("--input-shape", default=None, metavar="N,C,H,W",
                   help="input tensor: batch, channels, height, width (default 1,3,8,8)")
    c.add_argument("--out-channels", type=int_in(1), default=None, metavar="O", help="output channels (default 8)")
    c.add_argument("--kernel", default=None, metavar="K|KH,KW", help="kernel size (default 3)")
    c.add_argument("--stride", type=int_in(1), default=None, help="stride (default 1)")
    c.add_argument("--padding", type=int_in(0), default=None, help="zero padding on each side (default 0)")
    c.add_argument("--layout", choices=("NCHW", "NHWC"), default=None,
                   help="order of the input and output tensors (default NCHW)")
    r.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    r.add_argument("--asm", help="also write the program as assembly text to this file")
    r.add_argument("--out", help="write the result matrix to this .npy file")
    r.add_argument("--waves", metavar="FILE",
                   help="record the run's waveforms in FILE.vcd, or FILE.fst (Verilator's FST needs "
                        "liblz4-dev); a separately cached simulator build")
    add_force(r, "--asm, --out and --waves files")


def _params(args, fit=None):
    from ...hw.systolic import SystolicParams
    d = dict(rows=args.rows, cols=args.cols, in_width=args.in_width, acc_width=args.acc_width,
             mult_width=args.mult_width, act_lanes=args.act_lanes, act_serial=int(args.act_serial))
    given = {}
    for k in ("ub_depth", "acc_depth", "wmem_depth", "imem_depth"):
        if getattr(args, k) is not None:
            given[k] = getattr(args, k)
    d.update(given)
    try:
        p = SystolicParams(**d)
    except ValueError as exc:
        raise EiegenError(str(exc)) from None
    if fit is not None:
        from ..systolic.compiler import fit_params
        fitted = fit_params(*fit, p)
        d = fitted.to_dict()
        d.update(given)            # explicit depths win (and may be refused later)
        try:
            p = SystolicParams(**d)
        except ValueError as exc:
            raise EiegenError(str(exc)) from None
    return p


def _load_array(path, what, ndim=2):
    """A .npy array of `ndim` dimensions (2: a matrix, 4: a tensor), or a one-line error."""
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise EiegenError(f"cannot read {what} from {path}: {exc}") from None
    if a.ndim != ndim:
        kind = "2-D matrix" if ndim == 2 else f"{ndim}-D tensor"
        raise EiegenError(f"{what} in {path} must be a {kind}, got shape {a.shape}")
    return a


def _generate(args):
    from ..atomic import atomic_file
    from ..systolic.rtl import TOPLEVEL
    from ...hw.systolic.top import SystolicUnit
    from amaranth.back import verilog
    from ..atomic import check_output
    check_output(args.out, "verilog", force=args.force)
    p = _params(args)
    text = verilog.convert(SystolicUnit(p), name=TOPLEVEL, emit_src=False)
    with atomic_file(args.out, "w", kind="verilog", force=args.force) as f:
        f.write(text)
    print(f"wrote {args.out}: {p.rows} x {p.cols} systolic unit (top module {TOPLEVEL}), "
          f"int{p.in_width} x int{p.in_width} -> int{p.acc_width}; unified buffer {p.ub_depth} rows, "
          f"accumulators {p.acc_depth}, weight memory {p.wmem_depth}, instructions {p.imem_depth}")
    return 0


def _ints(text, n, what):
    try:
        vals = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise EiegenError(f"{what} must be {n} comma-separated integers, got {text!r}") from None
    if len(vals) not in n if isinstance(n, tuple) else len(vals) != n:
        raise EiegenError(f"{what} must be {' or '.join(map(str, n)) if isinstance(n, tuple) else n} "
                          f"comma-separated integers, got {text!r}")
    return vals


def _run_conv(args):
    from ..systolic import compile_layers, quant_from_scale, rtl
    from ..systolic.compiler import Conv2d, conv_output_hw
    from ..systolic.compare import layer_table
    from ...sim.systolic_cycles import simulate
    for flag in ("M", "K", "N"):
        if getattr(args, flag) is not None:
            raise EiegenError(f"-{flag} is for a matmul; a convolution takes --input-shape, "
                              f"--out-channels and --kernel")
    rng = np.random.default_rng(args.seed)
    layout = args.layout or "NCHW"
    x = _load_array(args.x, "the input tensor", 4) if args.x else None
    w = _load_array(args.w, "the weights (O, C, kh, kw)", 4) if args.w else None
    if args.input_shape is not None:
        shape = _ints(args.input_shape, 4, "--input-shape")
    elif x is not None:
        shape = list(x.shape) if layout == "NCHW" else [x.shape[0], x.shape[3], x.shape[1], x.shape[2]]
    else:
        shape = [1, w.shape[1] if w is not None else 3, 8, 8]
    n, c, h, wd = shape
    kh, kw = (_ints(args.kernel, (1, 2), "--kernel") * 2)[:2] if args.kernel else \
        ((w.shape[2], w.shape[3]) if w is not None else (3, 3))
    o = args.out_channels if args.out_channels is not None else (w.shape[0] if w is not None else 8)
    stride = 1 if args.stride is None else args.stride
    pad = 0 if args.padding is None else args.padding
    for what, v, lo in (("--input-shape N", n, 1), ("--input-shape C", c, 1), ("--input-shape H", h, 1),
                        ("--input-shape W", wd, 1), ("--out-channels", o, 1), ("--kernel", kh, 1),
                        ("--kernel", kw, 1), ("--stride", stride, 1), ("--padding", pad, 0)):
        if v < lo:
            raise EiegenError(f"{what} must be at least {lo}, got {v}")
    want_x = (n, c, h, wd) if layout == "NCHW" else (n, h, wd, c)
    if x is not None and tuple(x.shape) != want_x:
        raise EiegenError(f"the input tensor in {args.x} has shape {tuple(x.shape)}, "
                          f"--input-shape/--layout want {want_x}")
    if w is not None and tuple(w.shape) != (o, c, kh, kw):
        raise EiegenError(f"the weights in {args.w} have shape {tuple(w.shape)}, the options want "
                          f"{(o, c, kh, kw)} (O, C, kh, kw)")
    ho, wo = conv_output_hw(h, wd, kh, kw, stride, pad)
    if ho < 1 or wo < 1:
        raise EiegenError(f"a {kh} x {kw} kernel with padding {pad} does not fit a {h} x {wd} input")
    lo, hi = -(1 << (args.in_width - 1)), (1 << (args.in_width - 1))
    if x is None:
        x = rng.integers(lo, hi, want_x)
    if w is None:
        w = rng.integers(lo, hi, (o, c, kh, kw))
    output = "int32" if args.int32 else "int8"
    base = _params(args)
    k = c * kh * kw
    if args.mult is None and args.shift is None:
        mult, shift = quant_from_scale(1.0 / (np.sqrt(k) * hi), base)
    else:
        mult = 1 if args.mult is None else args.mult
        shift = 0 if args.shift is None else args.shift
    conv = Conv2d(w, stride, pad, mult, shift, args.relu, layout, "conv", (h, wd))
    # the matmul it lowers to, for the memory depths
    from ..systolic.compiler import Layer
    fit = (n * ho * wo, [Layer(np.zeros((k, o), dtype=np.int64), mult, shift)])
    p = _params(args, fit=fit)
    comp = compile_layers(n, [conv], p, output=output)
    comp.pack_input(x)
    print(f"conv {layout} {tuple(x.shape)} * ({o}, {c}, {kh}, {kw}), stride {stride}, padding {pad} "
          f"-> {n} x {o} x {ho} x {wo}: im2col ({n * ho * wo} x {k}) @ ({k} x {o}) on {p.rows} x {p.cols}"
          + ("" if args.int32 else f", requantise x{mult} >> {shift}{', ReLU' if args.relu else ''}")
          + f"; {len(comp.program)} instructions; building the {args.simulator} model ...", flush=True)
    return _execute(args, comp, x, p, layer_table(n, [conv], p))


def _execute(args, comp, x, p, table):
    """Build, run, compare with the golden model and the cycle model, report."""
    from ..systolic import rtl
    from ...sim.systolic_cycles import simulate
    if args.asm:
        from ..atomic import atomic_file
        with atomic_file(args.asm, "w", kind="systolic-asm", force=args.force) as f:
            f.write(f"# {len(comp.program)} instructions for a {p.rows} x {p.cols} systolic unit\n")
            f.write(comp.program.text())
        print(f"wrote {args.asm} ({len(comp.program)} instructions)")
    t0 = time.perf_counter()
    from ...sim.cocotb_harness import wave_format
    built = rtl.build(p, args.simulator, waves=wave_format(args.waves) if args.waves else None,
                      progress=lambda line: print(line, flush=True))
    print(f"model ready in {time.perf_counter() - t0:.1f} s; running ...", flush=True)
    (res,), stats = rtl.run_compiled(comp, [x], built=built, waves=args.waves)
    if args.waves:
        print(f"wrote the waveforms to {args.waves}")
    ref = rtl.golden_output(comp, x)
    model = simulate(comp.program, p).counters()
    ok = np.array_equal(res.y, ref) and not res.error
    print(f"{'counter':14s} {'RTL':>10s} {'cycle model':>12s}")
    for k, v in model.items():
        flag = "" if res.counters[k] == v else "   <-- differs"
        print(f"{k:14s} {res.counters[k]:10d} {v:12d}{flag}")
    print(_table_text(table, res.counters["cycles"]))
    rate = stats["run_cycles"] / stats["run_wall_seconds"] if stats["run_wall_seconds"] else 0
    print(f"simulated {stats['run_cycles']} cycles of computing at {rate / 1e3:.0f} kcycles/s, "
          f"{stats['bus_cycles']} host-bus cycles to load and read")
    if args.out:
        from ..atomic import atomic_file
        with atomic_file(args.out, "wb", kind="int-matrix", force=args.force) as f:
            np.save(f, res.y)
        print(f"wrote {args.out}")
    if not ok:
        bad = np.argwhere(res.y != ref)
        print(f"MISMATCH against the golden model at {len(bad)} places, first {tuple(bad[0]) if len(bad) else ''}"
              + (" (the unit reported an error)" if res.error else ""), file=sys.stderr)
        return 1
    if any(res.counters[k] != v for k, v in model.items()):
        print("the RTL's counters differ from the cycle model", file=sys.stderr)
        return 1
    print("OK: bit-exact with the golden model")
    return 0


def _table_text(table, rtl_cycles):
    """Per layer: the matmul, utilisation (useful MACs / (R*C*cycles)) and SCALE-Sim's."""
    lines = [f"{'layer':8s} {'matmul (M x K) @ (K x N)':>26s} {'cycles':>8s} {'util':>7s} "
             f"{'SCALE-Sim':>10s} {'util':>7s}"]
    for r in table:
        mm = f"({r['M']} x {r['K']}) @ ({r['K']} x {r['N']})"
        lines.append(f"{r['layer'][:8]:8s} {mm:>26s} {r['cycles']:8d} {r['util']:7.1%} "
                     f"{r['scalesim_cycles']:10d} {r['scalesim_util']:7.1%}")
    if len(table) == 1:
        r = table[0]
        lines.append(f"utilisation {r['util'] * r['cycles'] / rtl_cycles:.1%} on the RTL "
                     f"({rtl_cycles} cycles); useful MACs / (R*C*cycles)")
    return "\n".join(lines)


def _run(args):
    from ..atomic import check_output
    if args.asm:
        check_output(args.asm, "systolic-asm", force=args.force, inputs=[args.x, args.w])
    if args.out:
        check_output(args.out, "int-matrix", force=args.force, inputs=[args.x, args.w, args.asm])
    if args.waves:
        from ...sim.cocotb_harness import check_waves_path
        problem = check_waves_path(args.waves, args.simulator)
        if problem:
            raise EiegenError(problem)
        check_output(args.waves, "waves", force=args.force, inputs=[args.x, args.w, args.asm, args.out])
    if args.conv:
        return _run_conv(args)
    for opt in ("input_shape", "out_channels", "kernel", "stride", "padding", "layout"):
        if getattr(args, opt) is not None:
            raise EiegenError(f"--{opt.replace('_', '-')} is for a convolution (--conv)")
    from ..systolic import Layer, compile_layers, quant_from_scale, rtl
    from ..systolic.errors import SystolicError
    rng = np.random.default_rng(args.seed)
    x = _load_array(args.x, "X") if args.x else None
    w = _load_array(args.w, "W") if args.w else None
    for flag, given, mat, axis in (("-M", args.M, x, 0), ("-K", args.K, x, 1), ("-K", args.K, w, 0),
                                   ("-N", args.N, w, 1)):
        if given is not None and mat is not None and mat.shape[axis] != given:
            raise EiegenError(f"{flag} {given} disagrees with the {'X' if mat is x else 'W'} matrix "
                              f"given, of shape {mat.shape[0]} x {mat.shape[1]}")
        if given is not None and given < 1:
            raise EiegenError(f"{flag} must be at least 1, got {given}")
    M = args.M or (x.shape[0] if x is not None else 16)
    K = args.K or (x.shape[1] if x is not None else (w.shape[0] if w is not None else 16))
    N = args.N or (w.shape[1] if w is not None else 16)
    lo, hi = -(1 << (args.in_width - 1)), (1 << (args.in_width - 1))
    if x is None:
        x = rng.integers(lo, hi, (M, K))
    if w is None:
        w = rng.integers(lo, hi, (K, N))
    if x.shape[1] != w.shape[0]:
        raise SystolicError(f"X is {x.shape[0]} x {x.shape[1]} but W is {w.shape[0]} x {w.shape[1]}: "
                            f"inner dimensions differ")
    M, K, N = x.shape[0], x.shape[1], w.shape[1]
    output = "int32" if args.int32 else "int8"
    base = _params(args)
    if args.mult is None and args.shift is None:
        mult, shift = quant_from_scale(1.0 / (np.sqrt(K) * hi), base)   # outputs ~ +-40
    else:
        mult = 1 if args.mult is None else args.mult
        shift = 0 if args.shift is None else args.shift
    layers = [Layer(w, mult, shift, args.relu, "matmul")]
    p = _params(args, fit=(M, layers))
    comp = compile_layers(M, layers, p, output=output)
    comp.pack_input(x)             # refuses values out of range before the model is built
    print(f"({M} x {K}) @ ({K} x {N}) on {p.rows} x {p.cols}, {output} result"
          + ("" if args.int32 else f", requantise x{mult} >> {shift}{', ReLU' if args.relu else ''}")
          + f"; {len(comp.program)} instructions; building the {args.simulator} model ...", flush=True)
    from ..systolic.compare import layer_table
    return _execute(args, comp, x, p, layer_table(M, layers, p))


def run(args):
    if args.action == "generate":
        return _generate(args)
    return _run(args)
