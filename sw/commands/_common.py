"""Argument groups shared by several subcommands."""

import dataclasses

from ...hw.eie.params import EIEParams
from ..errors import EiegenError

__all__ = ["add_eie_params", "eie_params_from_args", "add_compression_args", "parse_sparsity",
           "fit_params"]

_DEFAULTS = EIEParams()


def add_eie_params(p, *, fifo=True):
    g = p.add_argument_group("EIE generator parameters")
    g.add_argument("--pes", type=int, default=_DEFAULTS.n_pes, help="number of PEs N (default %(default)s)")
    if fifo:
        g.add_argument("--fifo-depth", type=int, default=_DEFAULTS.fifo_depth,
                       help="activation queue depth (default %(default)s)")
    g.add_argument("--frac", type=int, default=_DEFAULTS.frac,
                   help="fractional bits of the 16-bit fixed point (default %(default)s)")
    g.add_argument("--acc-width", type=int, default=_DEFAULTS.acc_width,
                   help="accumulator bits (default %(default)s)")
    g.add_argument("--entries-per-word", type=int, default=_DEFAULTS.entries_per_word,
                   help="8-bit entries per sparse-matrix word: 1, 2, 4, 8 (default %(default)s)")
    g.add_argument("--spmat-depth", type=int, help=f"sparse-matrix words per PE (default {_DEFAULTS.spmat_depth})")
    g.add_argument("--ptr-depth", type=int, help=f"pointers per bank per PE (default {_DEFAULTS.ptr_depth})")
    g.add_argument("--bias-depth", type=int, help=f"bias words per PE (default {_DEFAULTS.bias_depth})")
    g.add_argument("--act-depth", type=int, help=f"activations per PE per file (default {_DEFAULTS.act_depth})")
    g.add_argument("--max-layers", type=int, help=f"layers an image may hold (default {_DEFAULTS.max_layers})")
    g.add_argument("--fit", action="store_true",
                   help="size unspecified memory depths to the model (smallest powers of two that fit)")
    return g


def eie_params_from_args(args, **override):
    kw = dict(n_pes=args.pes, frac=args.frac, acc_width=args.acc_width,
              entries_per_word=args.entries_per_word)
    if hasattr(args, "fifo_depth"):
        kw["fifo_depth"] = args.fifo_depth
    for name in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth", "max_layers"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = v
    kw.update(override)
    try:
        return EIEParams(**kw)
    except ValueError as exc:
        raise EiegenError(f"generator parameters: {exc}") from None


def _pow2(n):
    return 1 << max(0, (max(1, int(n)) - 1).bit_length())


def fit_params(model, params, explicit=()):
    """Smallest power-of-two memory depths that hold `model` (a CompressedModel)
    for params' N and word format; depths named in `explicit` are kept."""
    from ..packer import pack
    big = params.replace(spmat_depth=1 << 20, ptr_depth=1 << 16, bias_depth=1 << 15,
                         act_depth=1 << 12, max_layers=max(len(model.layers), 1))
    image = pack(model, big, check=False)
    epw = params.entries_per_word
    need = {
        "spmat_depth": _pow2(max(-(-len(s) // epw) for s in image.spmat)),
        "ptr_depth": _pow2(max(-(-len(p) // 2) for p in image.ptr)),
        "bias_depth": _pow2(max(len(b) for b in image.bias)),
        "act_depth": _pow2(max(max(l.in_local, l.out_local) for l in image.layers)),
        "max_layers": _pow2(len(model.layers)),
    }
    for k in explicit:
        need.pop(k, None)
    try:
        return params.replace(**need)
    except ValueError as exc:
        raise EiegenError(f"the model does not fit any array with these parameters: {exc}") from None


def add_compression_args(p):
    g = p.add_argument_group("compression (for float models)")
    g.add_argument("--sparsity", default="0.9",
                   help="fraction of weights pruned: one value, one per layer (comma-separated) "
                        "or name=value pairs (default %(default)s)")
    g.add_argument("--bits", type=int, default=4, help="codebook index bits (default %(default)s)")
    g.add_argument("--balance", action="store_true",
                   help="load-balance-aware pruning (equal non-zeros per PE in every column)")
    return g


def parse_sparsity(text, layer_names):
    """'0.9' | '0.8,0.9' | 'fc1=0.8,fc2=0.9' -> float or {layer: float}."""
    text = str(text).strip()
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise EiegenError("--sparsity is empty")

    def num(s, where):
        try:
            v = float(s)
        except ValueError:
            raise EiegenError(f"--sparsity: {where}: '{s}' is not a number") from None
        if not 0.0 <= v < 1.0:
            raise EiegenError(f"--sparsity: {where}: {v} is outside [0, 1)")
        return v

    if any("=" in t for t in parts):
        out = {}
        for t in parts:
            if "=" not in t:
                raise EiegenError(f"--sparsity: mix of name=value and plain values ('{t}')")
            name, _, val = t.partition("=")
            name = name.strip()
            if name not in layer_names:
                raise EiegenError(f"--sparsity: no layer named '{name}' (layers: {', '.join(layer_names)})")
            out[name] = num(val, f"layer '{name}'")
        return out
    if len(parts) == 1:
        return num(parts[0], "value")
    if len(parts) != len(layer_names):
        raise EiegenError(f"--sparsity: {len(parts)} values for {len(layer_names)} layers")
    return {n: num(v, f"layer '{n}'") for n, v in zip(layer_names, parts)}
