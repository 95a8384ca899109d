"""sw/fit.py: the smallest power-of-two memories that hold a model."""

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sim.testdata import random_compressed_model
from eiegen.sw.errors import EiegenError
from eiegen.sw.fit import fit_params
from eiegen.sw.packer import pack


def test_fitted_depths_hold_the_model_and_halving_any_does_not():
    model = random_compressed_model(np.random.default_rng(3), [96, 40, 10], density=0.3)
    p = fit_params(model, EIEParams(n_pes=4))
    pack(model, p)                                   # fits (pack checks capacity)
    for k in ("spmat_depth", "ptr_depth", "bias_depth", "act_depth"):
        d = getattr(p, k)
        assert d & (d - 1) == 0
        if d > 1:
            with pytest.raises(EiegenError):
                pack(model, p.replace(**{k: d // 2}))


def test_explicit_depths_are_kept():
    model = random_compressed_model(np.random.default_rng(4), [64, 16], density=0.2)
    p = fit_params(model, EIEParams(n_pes=2, spmat_depth=4096), explicit=("spmat_depth",))
    assert p.spmat_depth == 4096


def test_library_code_does_not_import_the_commands():
    """Layers point one way: sw/commands are the application; nothing below imports them."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for f in sorted(root.glob("*/**/*.py")):
        rel = f.relative_to(root)
        if rel.parts[0] not in ("hw", "sw", "sim", "boards") or rel.parts[:2] == ("sw", "commands") \
                or rel == Path("sw/cli.py"):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and "commands" in node.module.split("."):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
