"""sw/fit.py: what a model needs of an EIE array, the options that make it
fit (checked by packing with them), the capacity of an array (a model at
the limit packs, one past it does not), and the cycle count."""

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sim.eie_cycles import simulate
from eiegen.sim.testdata import random_compressed_model, random_input
from eiegen.sw.errors import CapacityError, EiegenError
from eiegen.sw.fit import MEMORIES, model_needs, fit, capacity, inference_cycles, pow2, options_text, fit_params
from eiegen.sw.model import CompressedLayer, CompressedModel
from eiegen.sw.packer import pack

SMALL = EIEParams(n_pes=2, spmat_depth=64, ptr_depth=16, bias_depth=16, act_depth=8, max_layers=2)


@pytest.fixture(scope="module")
def model():
    return random_compressed_model(np.random.default_rng(3), [40, 30, 20, 6], [0.5, 0.4, 0.6])


def test_needs_are_exact(model):
    need = model_needs(model, SMALL)
    exact = SMALL.replace(**need)
    pack(model, exact)                                   # fits exactly
    for field, _, _ in MEMORIES:
        if need[field] > 1:
            with pytest.raises(CapacityError):
                pack(model, exact.replace(**{field: need[field] - 1}))


def test_fit_names_the_options_that_fit(model):
    res = fit(model, SMALL)
    assert not res.fits
    short = {n.field for n in res.short}
    assert short == {f for f, _, _ in MEMORIES if model_needs(model, SMALL)[f] > getattr(SMALL, f)}
    opts = res.options()
    assert set(opts) == {n.option for n in res.short}
    assert all(v == pow2(n.need) for n, v in zip(res.short, opts.values()))
    pack(model, res.fitted)                              # the suggestion packs
    assert options_text({"--ptr-depth": 32, "--act-depth": 16}) == "--ptr-depth 32 --act-depth 16"
    roomy = fit(model, res.fitted)
    assert roomy.fits and roomy.options() == {}


def test_beyond_any_array(model):
    wide = CompressedModel([CompressedLayer("huge", np.array([0.0, 1.0]),
                                            np.ones((3, 9000), dtype=np.uint8))])
    res = fit(wide, EIEParams(n_pes=2))
    assert res.fitted is None and not res.fits
    assert any(n.field == "act_depth" and n.need == 4500 for n in res.short)


def test_pack_errors_name_the_options(model):
    res = fit(model, SMALL)
    with pytest.raises(CapacityError) as e:
        pack(model, SMALL)
    msg = str(e.value)
    assert msg.startswith("the model has 3 layers; the array holds max_layers = 2")
    assert f"the options that make it fit: {options_text(res.options())} (" in msg
    assert "--max-layers 4" in msg and "--act-depth 32" in msg


@pytest.mark.parametrize("n_pes", [1, 3])
def test_capacity_is_the_largest_model(n_pes):
    p = EIEParams(n_pes=n_pes, spmat_depth=256, ptr_depth=64, bias_depth=32, act_depth=16,
                  max_layers=2)
    c = capacity(p)
    assert c["max_inputs"] == c["max_outputs"] == n_pes * 16
    assert c["nonzeros"] == n_pes * c["entries_per_pe"] == n_pes * 512
    assert (c["pointers"], c["rows"], c["layers"]) == (128, n_pes * 32, 2)
    rng = np.random.default_rng(n_pes)
    # a layer as wide and tall as the activation files fits; one value more does not
    m = random_compressed_model(rng, [c["max_inputs"], c["max_outputs"]], 0.2)
    assert fit(m, p).fits
    m = random_compressed_model(rng, [c["max_inputs"] + 1, 4], 0.2)
    assert not fit(m, p).fits
    # a dense layer of exactly entries_per_pe entries per PE fills the sparse matrix
    rows = n_pes * 16
    cols = c["entries_per_pe"] // 16
    dense = CompressedModel([CompressedLayer("d", np.array([0.0, 0.5]),
                                             np.ones((rows, cols), dtype=np.uint8))])
    p2 = p.replace(act_depth=max(16, -(-cols // n_pes)), ptr_depth=256)
    assert model_needs(dense, p2)["spmat_depth"] == p2.spmat_depth
    assert fit(dense, p2).fits


def test_inference_cycles(model):
    p = model_needs(model, SMALL)
    p = SMALL.replace(**{k: pow2(v) for k, v in p.items()})
    image = pack(model, p)
    worst, lo, hi = inference_cycles(image, p.fifo_depth)
    assert worst == lo == hi
    x = random_input(np.random.default_rng(0), 40, 0.6, batch=4)
    mean, lo, hi = inference_cycles(image, p.fifo_depth, x)
    each = [simulate(image, v, fifo_depth=p.fifo_depth).total_cycles for v in x]
    assert (mean, lo, hi) == (np.mean(each), min(each), max(each))
    assert hi <= worst


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
