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
    n_verilator = len({(n, d) for n, d in eie_bench.rtl_points(False)} | {(4, 8), (16, 8)})
    assert full[f"{n_verilator} verilator build(s) not cached"] == n_verilator * eie_bench.BUILD_SECONDS["verilator"]
    # a cached build is not counted, and the last build time on this machine is used
    p = eie_bench.rtl_params(4, 8)
    sim = tmp_path / "cache" / "sim"
    from eiegen.sim import eie_harness
    _, _, d = eie_harness._build_dir(p, "verilator")
    (d / "sim").mkdir(parents=True)
    (d / "sim" / "eiegen.build-digest").write_text("x")
    (d / "sim" / eie_harness.TOPLEVEL).write_text("x")
    (sim / "build-times.json").write_text('{"eie/verilator": 42.0}')
    assert eie_harness.is_built(p, "verilator")
    steps = dict(eie_bench.estimate(quick=False, full=False))
    assert "1 verilator build(s) not cached" not in steps
    full = dict(eie_bench.estimate(quick=False, full=True))
    assert full[f"{n_verilator - 1} verilator build(s) not cached"] == (n_verilator - 1) * 42.0


def test_every_rtl_point_fits_one_geometry():
    """One memory geometry for every RTL point: a build serves every layer of the benchmark."""
    from eiegen.sim.eie_benchmarks import EIE_BENCHMARKS, make_layer
    from eiegen.sw.packer import pack
    alex8 = make_layer(next(b for b in EIE_BENCHMARKS if b.name == "Alex-8"), seed=8)
    alex7 = make_layer(next(b for b in EIE_BENCHMARKS if b.name == "Alex-7"), seed=7, scale=1 / 8)
    for n in eie_bench.SPEED_PES[True]:
        pack(alex8, eie_bench.rtl_params(n, 8))                   # capacity-checked
    for n, d in eie_bench.rtl_points(False):
        pack(alex7, eie_bench.rtl_params(n, d))
    assert isinstance(eie_bench.rtl_params(1, 1), EIEParams)
