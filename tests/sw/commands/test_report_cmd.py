"""`eiegen report` (sw/commands/report.py): the quick report from an `eiegen sim` run."""

import json

import pytest

from eiegen.sw import simflow


@pytest.mark.full
def test_report_quick(tmp_path, cli):
    sim_dir = tmp_path / "sim"
    simflow.run_flow(simflow.SimOptions(hidden=(32,), epochs=8, retrain_epochs=2, finetune_epochs=2,
                                        prune_steps=1, simulator="none", out=sim_dir, sweep=False,
                                        max_drop=100.0), lambda s: None)
    out = tmp_path / "report"
    rc, stdout, err = cli("report", "--quick", "--sim-dir", sim_dir, "-o", out)
    assert rc == 0, err
    md = (out / "report.md").read_text()
    for f in ("accuracy_vs_compression.png", "eie_scaling.png", "digits_eie_scaling.png", "pe_load.png"):
        assert (out / f).exists() and f"({f})" in md
    doc = json.loads((out / "report.json").read_text())
    assert set(doc["eie_fifo"]) == set(doc["eie_pes"]) and len(doc["eie_fifo"]) == 9
    # the sim section shows the run's own table
    assert doc["sim"]["table"].splitlines()[0] in md
    # published numbers are marked as quoted
    assert "Quoted from the papers" in md and "40x" in md


def test_report_refuses_a_broken_sim_report(tmp_path, cli):
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    (sim_dir / "report.json").write_text("{not json")
    out = tmp_path / "report"
    rc, _, err = cli("report", "--quick", "--sim-dir", sim_dir, "-o", out)
    assert rc == 2 and "not a readable `eiegen sim` report" in err and not out.exists()


def test_digits_sweeps(tmp_path):
    from eiegen.sw.commands.report import digits_eie_sweeps
    sim_dir = tmp_path / "sim"
    simflow.run_flow(simflow.SimOptions(hidden=(32,), epochs=5, retrain_epochs=1, finetune_epochs=1,
                                        prune_steps=1, simulator="none", out=sim_dir, sweep=False,
                                        max_drop=100.0, limit=5), lambda s: None)
    d = digits_eie_sweeps(sim_dir, quick=True)
    assert d["inputs"] == 5
    assert all(0 < e <= 1 for e in d["load_efficiency"])
    # deeper queues never hurt; more PEs never slow the network down
    assert all(b >= a - 1e-12 for a, b in zip(d["load_efficiency"], d["load_efficiency"][1:]))
    # more PEs speed the network up while each PE keeps more than one row of
    # the 32-wide hidden layer; beyond that the pipeline's registered tree
    # levels (one more per doubling, hw/eie/timing.py) cost more than the
    # work split saves, but never as much as one PE's time
    k32 = d["pe_counts"].index(32)
    assert all(b <= a for a, b in zip(d["cycles"][:k32], d["cycles"][1:k32]))
    assert all(c < d["cycles"][0] for c in d["cycles"][1:])
    # with limit=5 the saved test set holds only those five samples
