import numpy as np
import pytest

from eiegen.sw.compress.prune import (column_imbalance, imbalance, pe_nonzeros, prune_balanced,
                                      prune_magnitude)
from eiegen.sw.errors import ModelError


def _shares(w, pes, group):
    """Per active PE and column group: (kept magnitudes, pruned magnitudes) of
    the PE's rows of those columns, computed with plain loops."""
    rows, cols = w.shape
    out = {}
    for p in range(min(pes, rows)):
        for g0 in range(0, cols, group):
            out[p, g0] = w[p::pes, g0:g0 + group]
    return out


@pytest.mark.parametrize("s", [0.0, 0.1, 0.5, 0.9, 0.91, 0.999])
def test_magnitude_exact_sparsity(s):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((97, 53))
    p = prune_magnitude(w, s)
    kept = p != 0
    assert kept.sum() == round((1 - s) * w.size)
    assert np.array_equal(p[kept], w[kept])                 # survivors unchanged
    if 0 < kept.sum() < w.size:
        assert np.abs(w[kept]).min() >= np.abs(w[~kept]).max()


def test_magnitude_ties_still_exact():
    w = np.tile(np.array([1.0, -1.0, 2.0, 0.5]), (10, 5))   # many equal magnitudes
    p = prune_magnitude(w, 0.7)
    assert (p != 0).sum() == round(0.3 * w.size)
    assert (np.abs(p[p != 0]) >= 1.0).all()
    assert (p[np.abs(w) == 2.0] != 0).all()


@pytest.mark.parametrize("rows, cols, pes, group, s", [
    (64, 48, 4, 1, 0.9),      # rows divisible by N
    (67, 50, 4, 1, 0.8),      # uneven shares: PEs 0-2 own 17 rows, PE 3 owns 16
    (67, 50, 4, 3, 0.8),      # column groups of 3, last group of 2 columns
    (100, 7, 5, 4, 0.3),
    (3, 10, 8, 1, 0.5),       # fewer rows than PEs: only PEs 0-2 take part
    (256, 96, 16, 1, 0.91),
])
def test_balanced_equal_per_pe_counts(rows, cols, pes, group, s):
    rng = np.random.default_rng(rows + cols)
    w = rng.standard_normal((rows, cols)) * rng.uniform(0.1, 3, size=(rows, 1))   # skewed rows
    p = prune_balanced(w, s, pes, group=group)
    active = min(pes, rows)
    # loop-based check of the balance constraint and of "keep the largest in each share"
    counts = {}
    for (pe, g0), share in _shares(p, pes, group).items():
        counts.setdefault(g0, []).append(int((share != 0).sum()))
    for g0, c in counts.items():
        assert len(set(c)) == 1, f"column group {g0}: per-PE counts {c}"
    for (pe, g0), share in _shares(w, pes, group).items():
        keep = _shares(p, pes, group)[pe, g0] != 0
        if keep.any() and (~keep).any():
            assert np.abs(share[keep]).min() >= np.abs(share[~keep]).max()
    kept = int((p != 0).sum())
    assert kept % active == 0
    cap = (rows // pes if rows >= pes else 1) * cols * active
    target = (1 - s) * w.size
    assert abs(kept - min(target, cap)) <= active / 2 + 1e-9
    assert np.array_equal(p[p != 0], w[p != 0])
    # and the PE-count helper agrees: every column group has equal counts
    nz = pe_nonzeros(p, pes)[:active]
    grouped = np.add.reduceat(nz, np.arange(0, cols, group), axis=1)
    assert (grouped == grouped[:1]).all()


def test_balanced_per_column_uses_two_neighbouring_counts():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((128, 40))
    p = prune_balanced(w, 0.9, 8)
    nz = pe_nonzeros(p, 8)
    assert set(np.unique(nz[0])) <= {1, 2}           # 16 local rows x 10% = 1.6 per PE per column
    assert imbalance(p, 8) == 1.0
    assert (column_imbalance(p, 8) == 1.0).all()


def test_magnitude_pruning_is_unbalanced_on_skewed_rows():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((64, 32))
    w[0::4] *= 5.0                                    # PE 0 of 4 owns the large rows
    assert imbalance(prune_magnitude(w, 0.9), 4) > 2.0
    assert imbalance(prune_balanced(w, 0.9, 4), 4) == 1.0


def test_balanced_ties_exact():
    w = np.ones((16, 6))
    p = prune_balanced(w, 0.5, 4)
    assert (pe_nonzeros(p, 4) == 2).all()
    # ties go to the lowest local rows: rows 0-7 (local rows 0, 1 of every PE)
    assert (p[:8] != 0).all() and (p[8:] == 0).all()


def test_sparsity_zero_keeps_everything():
    w = np.arange(1.0, 13.0).reshape(3, 4)
    assert np.array_equal(prune_magnitude(w, 0), w)
    assert np.array_equal(prune_balanced(w, 0, 2), w)


def test_balanced_capped_density():
    # 10 rows on 4 PEs: the shortest share has 2 rows per column -> at most 80 % density
    w = np.random.default_rng(2).standard_normal((10, 5)) + 10
    p = prune_balanced(w, 0.05, 4)
    assert (pe_nonzeros(p, 4) == 2).all()


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5, float("nan"), float("inf"), "0.5", True, None])
def test_bad_sparsity(s):
    w = np.ones((4, 4))
    with pytest.raises(ModelError, match=r"layer 'fc7': sparsity"):
        prune_magnitude(w, s, name="fc7")
    with pytest.raises(ModelError, match=r"layer 'fc7': sparsity"):
        prune_balanced(w, s, 2, name="fc7")


def test_bad_weights_and_pes():
    with pytest.raises(ModelError, match=r"layer 'a': weight must be 2-D, got shape \(4,\)"):
        prune_magnitude(np.ones(4), 0.5, name="a")
    w = np.ones((4, 4))
    w[2, 1] = np.nan
    with pytest.raises(ModelError, match=r"layer 'b': weight has non-finite values"):
        prune_balanced(w, 0.5, 2, name="b")
    with pytest.raises(ModelError, match="number of PEs"):
        prune_balanced(np.ones((4, 4)), 0.5, 0)
    with pytest.raises(ModelError, match="column group"):
        prune_balanced(np.ones((4, 4)), 0.5, 2, group=0)
