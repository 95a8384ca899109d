"""`eiegen bench`: an estimate before it starts (including the simulator builds
not cached yet), a line per step, the time each benchmark took."""

import types

import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sw import paths
from eiegen.sw.bench import eie as eie_bench
from eiegen.sw.cli import main


def _fake(calls):
    def estimate(quick=False, full=False):
        return [("step one", 30.0), ("step two", 90.0 if full else 10.0)]

    def run(quick=False, out_dir=None, *, full=False, log=None):
        calls.append((quick, full))
        log("[fake 1/2] one")
        log("[fake 2/2] two")
        (out_dir / "fake.json").write_text("{}")
    return types.SimpleNamespace(TITLE="a fake benchmark", ORDER=1, estimate=estimate, run=run)


@pytest.fixture
def fake(monkeypatch):
    calls = []
    mod = _fake(calls)
    import eiegen.sw.bench as bench_pkg
    monkeypatch.setattr(bench_pkg, "discover", lambda: [("fake", mod)])
    return calls


def test_estimate_first_then_steps(fake, tmp_path, capsys):
    assert main(["bench", "-o", str(tmp_path / "b"), "--full"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("eiegen bench (default + full): fake; estimated 2 min on an otherwise idle")
    assert out[1].startswith("  fake       ~  2 min: step one ~30 s; step two ~2 min")
    assert out.index("[fake 1/2] one") < out.index("[fake 2/2] two")
    assert any(line.startswith("--- fake took ") and "(estimated 120 s)" in line for line in out)
    assert fake == [(False, True)]
    assert (tmp_path / "b" / "fake.json").exists() and (tmp_path / "b" / ".eiegen-bench").exists()


def test_the_eie_estimate_counts_the_builds_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr("eiegen.sw.toolchain.have_icarus", lambda: True)
    steps = dict(eie_bench.estimate(quick=False, full=False))
    assert steps["1 verilator build(s) not cached"] == eie_bench.BUILD_SECONDS["verilator"]
    assert steps["1 icarus build(s) not cached"] == eie_bench.BUILD_SECONDS["icarus"]
    full = dict(eie_bench.estimate(quick=False, full=True))
    n_verilator = len(eie_bench.rtl_points(False)) + 1        # the speed runs' sweep builds are shared
    assert full[f"{n_verilator} verilator build(s) not cached"] == n_verilator * eie_bench.BUILD_SECONDS["verilator"]
    # a cached build is not counted, and the last build time on this machine is used
    p = eie_bench.rtl_params(4, 8)
    sim = tmp_path / "cache" / "sim"
    from eiegen.sim import eie_harness
    _, _, d = eie_harness._build_dir(p, "verilator")
    (d / "sim").mkdir(parents=True)
    (d / "sim" / "eiegen.build-digest").write_text("x")
    (d / "sim" / eie_harness.TOPLEVEL).write_text("x")
    import json
    times = {eie_harness._build_kind(eie_bench.sweep_params(n, d), "verilator"): 142.0
             for n, d in eie_bench.rtl_points(False)}
    (sim / "build-times.json").write_text(json.dumps(times))
    assert eie_harness.is_built(p, "verilator")
    steps = dict(eie_bench.estimate(quick=False, full=False))
    assert "1 verilator build(s) not cached" not in steps
    full = dict(eie_bench.estimate(quick=False, full=True))
    assert full[f"{n_verilator - 1} verilator build(s) not cached"] == (n_verilator - 1) * 142.0


def test_every_rtl_point_fits_the_regressions_geometry():
    """The speed runs use the regression tests' memory geometry, so their builds
    are the ones `make test` / `make test-full` cached; every layer fits its geometry."""
    import importlib.util
    from eiegen.sim.eie_benchmarks import EIE_BENCHMARKS, make_layer
    from eiegen.sw.packer import pack
    from eiegen.sw.paths import checkout_root
    spec = importlib.util.spec_from_file_location(
        "regression", checkout_root() / "tests" / "hw" / "eie" / "test_array.py")
    regression = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(regression)
    assert eie_bench.RTL_GEOMETRY == regression.GEOMETRY
    assert eie_bench.rtl_params(4, 8) == regression.params_for(4, 8)
    alex8 = next(b for b in EIE_BENCHMARKS if b.name == "Alex-8")
    alex7 = next(b for b in EIE_BENCHMARKS if b.name == "Alex-7")
    for q in (0, 1):
        for geometry, n, scales, _ in eie_bench.speed_runs(True):
            pack(make_layer(alex8, seed=8, scale=scales[q]), eie_bench._speed_params(geometry, n))
        m7 = make_layer(alex7, seed=7, scale=eie_bench.SWEEP_SCALE[q])
        for n, d in eie_bench.rtl_points(bool(1 - q)):
            pack(m7, eie_bench.sweep_params(n, d))
    assert isinstance(eie_bench.rtl_params(1, 1), EIEParams)
