"""Argument groups and option types shared by several subcommands.

Every numeric option has a type from here that checks its range while the
command line is parsed, before any work or output: an out-of-range value is
an argparse error naming the option (exit status 2, no traceback). The EIE
and systolic generator parameters take their ranges from the generators' own
tables (hw/eie/params.py RANGES, hw/systolic/params.py RANGES).
"""

import dataclasses

from ...hw.eie.params import EIEParams, RANGES as EIE_RANGES
from ..argtypes import int_in, float_in, range_text     # noqa: F401 (used by the commands)
from ..errors import EiegenError
from ..fit import fit_params     # noqa: F401 (re-exported for the commands)

__all__ = ["add_eie_params", "eie_params_from_args", "add_compression_args", "parse_sparsity",
           "fit_params", "int_in", "float_in", "eie_param", "systolic_param", "add_force"]

_DEFAULTS = EIEParams()


def eie_param(name):
    """An argparse type for EIE generator parameter `name`, from the generator's RANGES."""
    t = int_in(*EIE_RANGES[name], name=name)
    t.param, t.table = name, EIE_RANGES
    return t


def systolic_param(name):
    """An argparse type for systolic generator parameter `name`, from the generator's RANGES."""
    from ...hw.systolic.params import RANGES
    t = int_in(*RANGES[name], name=name)
    t.param, t.table = name, RANGES
    return t


def add_force(p, what="output"):
    p.add_argument("--force", action="store_true",
                   help=f"replace the {what} even when the path holds something eiegen did not "
                        "write there (default: refuse)")


def add_eie_params(p, *, fifo=True, board=False):
    g = p.add_argument_group("EIE generator parameters")
    if board:
        g.add_argument("--board", help="start from the EIE array of this board's build (boards/<name>.py: "
                       "icebreaker, ulx3s); the options below override its parameters")
    g.add_argument("--pes", type=eie_param("n_pes"),
                   help=f"number of PEs N, 1..64 (default {_DEFAULTS.n_pes})")
    if fifo:
        g.add_argument("--fifo-depth", type=eie_param("fifo_depth"),
                       help=f"activation queue depth, 1..64 (default {_DEFAULTS.fifo_depth})")
    g.add_argument("--frac", type=eie_param("frac"),
                   help=f"fractional bits of the 16-bit fixed point, 0..15 (default {_DEFAULTS.frac})")
    g.add_argument("--acc-width", type=eie_param("acc_width"),
                   help=f"accumulator bits, 17 + frac..64 (default {_DEFAULTS.acc_width})")
    g.add_argument("--entries-per-word", type=eie_param("entries_per_word"),
                   help=f"8-bit entries per sparse-matrix word: 1, 2, 4, 8 (default {_DEFAULTS.entries_per_word})")
    g.add_argument("--spmat-depth", type=eie_param("spmat_depth"),
                   help=f"sparse-matrix words per PE (default {_DEFAULTS.spmat_depth})")
    g.add_argument("--ptr-depth", type=eie_param("ptr_depth"),
                   help=f"pointers per bank per PE (default {_DEFAULTS.ptr_depth})")
    g.add_argument("--bias-depth", type=eie_param("bias_depth"),
                   help=f"bias words per PE (default {_DEFAULTS.bias_depth})")
    g.add_argument("--act-depth", type=eie_param("act_depth"),
                   help=f"activations per PE per file (default {_DEFAULTS.act_depth})")
    g.add_argument("--max-layers", type=eie_param("max_layers"),
                   help=f"layers an image may hold (default {_DEFAULTS.max_layers})")
    g.add_argument("--fit", action="store_true",
                   help="size unspecified memory depths to the model (smallest powers of two that fit)")
    return g


def eie_params_from_args(args, **override):
    """EIEParams from the options: EIEParams' defaults, or with --board the
    board's array, overridden by every option given."""
    base = _DEFAULTS
    if getattr(args, "board", None):
        from ...boards.board import get_board
        base = get_board(args.board).eie_params()
    kw = base.to_dict()
    for name, attr in (("n_pes", "pes"), ("fifo_depth", "fifo_depth"), ("frac", "frac"),
                       ("acc_width", "acc_width"), ("entries_per_word", "entries_per_word"),
                       ("spmat_depth", "spmat_depth"), ("ptr_depth", "ptr_depth"),
                       ("bias_depth", "bias_depth"), ("act_depth", "act_depth"),
                       ("max_layers", "max_layers")):
        v = getattr(args, attr, None)
        if v is not None:
            kw[name] = v
    kw.update(override)
    try:
        return EIEParams(**kw)
    except ValueError as exc:
        raise EiegenError(f"generator parameters: {exc}") from None


def add_compression_args(p):
    g = p.add_argument_group("compression (a float model is compressed first; these say how)")
    g.add_argument("--sparsity",
                   help="fraction of weights pruned, in [0, 1): one value, one per layer "
                        "(comma-separated) or name=value pairs; required for a float model (no "
                        "default: how much to prune is the user's choice, docs/compression.md)")
    g.add_argument("--bits", type=int_in(1, 4),
                   help="codebook index bits, 1..4 for EIE's 4-bit weight index (default 4)")
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
