"""Per-layer sparsity options: Python values and the command-line text form."""

import numbers

import numpy as np

from ..errors import EiegenError, ModelError

__all__ = ["sparsity_per_layer", "parse_sparsity"]


def sparsity_per_layer(sparsity, names):
    """float | sequence (one per layer) | {name: float} -> {name: value}.

    Values are not range-checked here (check_sparsity does, naming the layer).
    """
    names = list(names)
    if isinstance(sparsity, numbers.Real) and not isinstance(sparsity, bool):
        return {n: sparsity for n in names}
    if isinstance(sparsity, dict):
        unknown = [k for k in sparsity if k not in names]
        if unknown:
            raise ModelError(f"sparsity given for unknown layer(s) {', '.join(map(repr, unknown))} "
                             f"(layers: {', '.join(names)})")
        missing = [n for n in names if n not in sparsity]
        if missing:
            raise ModelError(f"no sparsity given for layer(s) {', '.join(map(repr, missing))}; "
                             "give every layer a value")
        return {n: sparsity[n] for n in names}
    if isinstance(sparsity, (list, tuple, np.ndarray)):
        values = list(np.asarray(sparsity, dtype=object).ravel()) if isinstance(sparsity, np.ndarray) \
            else list(sparsity)
        if len(values) != len(names):
            raise ModelError(f"sparsity has {len(values)} value(s) for {len(names)} layer(s) "
                             f"({', '.join(names)})")
        return dict(zip(names, values))
    raise ModelError(f"sparsity must be a number, a list with one per layer or a dict by layer "
                     f"name, got {type(sparsity).__name__}")


def parse_sparsity(text, names):
    """Command-line form: '0.9' | '0.8,0.9' (one per layer, in order) |
    'fc1=0.8,fc2=0.9' -> float, list or dict for compress_model()."""
    parts = [t.strip() for t in str(text).split(",")]
    if not any(parts):
        raise EiegenError("--sparsity is empty")
    if "" in parts:
        raise EiegenError(f"--sparsity '{text}': empty item")

    def num(s, where):
        try:
            return float(s)
        except ValueError:
            raise EiegenError(f"--sparsity: {where}: '{s}' is not a number") from None

    named = ["=" in p for p in parts]
    if any(named):
        if not all(named):
            raise EiegenError(f"--sparsity '{text}': mixes name=value pairs and plain values")
        out = {}
        for p in parts:
            name, _, val = p.partition("=")
            name = name.strip()
            if name in out:
                raise EiegenError(f"--sparsity: layer '{name}' given twice")
            out[name] = num(val.strip(), f"layer '{name}'")
        return out
    if len(parts) == 1:
        return num(parts[0], "value")
    return [num(p, f"value {i + 1}") for i, p in enumerate(parts)]
