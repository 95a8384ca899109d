"""Smoke test of `eiegen bench compress` on a small layer (no timing is checked)."""

import json

import numpy as np
import pytest

from eiegen.sw.bench import compress as bench


def test_bench_runs_and_agrees_with_sklearn(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "QUICK_SHAPE", (512, 256))
    bench.run(quick=True, out_dir=tmp_path)
    out = capsys.readouterr().out
    assert "Compress + pack, 512 x 256 to 9% density" in out
    assert "compression report for N = 64 PEs" in out
    res = json.loads((tmp_path / "compress.json").read_text())
    assert res["report"]["total"]["nonzeros"] == round(0.09 * 512 * 256 / 64) * 64
    assert (tmp_path / "compress.png").stat().st_size > 0
    ran = [r for r in res["kmeans"] if r.get("sklearn_s") is not None]
    assert len(ran) >= 2
    for r in ran:
        np.testing.assert_allclose(r["ours_centroids"], r["sklearn_centroids"], atol=1e-9)
        assert r["ours_inertia"] == pytest.approx(r["sklearn_inertia"], rel=1e-9)
        assert r["ours_iter"] == r["sklearn_iter"]
