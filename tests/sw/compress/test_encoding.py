import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sw.compress.encoding import interleaved_csc
from eiegen.sw.errors import ModelError
from eiegen.sw.model import CompressedLayer, CompressedModel
from eiegen.sw.packer import pack


def test_paper_example():
    # docs/design.md: [0, 0, 1, 2, 0 x 18, 3] -> v = [1, 2, 0, 3], z = [2, 0, 15, 2]
    idx = np.array([0, 0, 1, 2] + [0] * 18 + [3], dtype=np.uint8)[:, None]
    st = interleaved_csc(idx, 1)
    assert st.v.tolist() == [1, 2, 0, 3]
    assert st.z.tolist() == [2, 0, 15, 2]
    assert st.padding.tolist() == [1] and st.nonzeros == 3 and st.entries == 4


def _reference(idx, pes):
    """Plain loops over docs/design.md's rules: per PE, column, row top to bottom."""
    rows, cols = idx.shape
    out = []
    for p in range(pes):
        ent = []
        for j in range(cols):
            last = -1
            for l, i in enumerate(range(p, rows, pes)):
                if idx[i, j]:
                    g = l - last - 1
                    ent += [(0, 15)] * (g // 16) + [(int(idx[i, j]), g % 16)]
                    last = l
        out.append(ent)
    return out


@pytest.mark.parametrize("rows, cols, pes, density", [(50, 7, 1, 0.05), (97, 13, 4, 0.1),
                                                      (3, 5, 8, 0.5), (300, 4, 2, 0.02)])
def test_matches_loops_and_packer(rows, cols, pes, density):
    rng = np.random.default_rng(rows)
    idx = (rng.integers(1, 16, (rows, cols)) * (rng.random((rows, cols)) < density)).astype(np.uint8)
    st = interleaved_csc(idx, pes)
    ref = _reference(idx, pes)
    im = pack(CompressedModel([CompressedLayer("l", np.arange(16) / 16, idx)]),
              EIEParams(n_pes=pes), check=False)
    for p in range(pes):
        v, z = st.pe(p)
        assert list(zip(v.tolist(), z.tolist())) == ref[p]
        assert np.array_equal(im.spmat[p], (v | (z << 4)).astype(np.uint8))
        assert st.padding[p] == sum(1 for e in ref[p] if e == (0, 15))
    assert st.nonzeros == int((idx != 0).sum())


def test_bad_arguments():
    with pytest.raises(ModelError, match="2-D"):
        interleaved_csc(np.zeros(3, np.uint8), 1)
    with pytest.raises(ModelError, match="number of PEs"):
        interleaved_csc(np.zeros((3, 3), np.uint8), 0)
