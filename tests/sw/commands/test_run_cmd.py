"""`eiegen run --port sim`: options checked before the simulated board
starts; --waves records the simulated board (Verilator)."""

import numpy as np
import pytest

from eiegen.sim.wavefile import signals


@pytest.fixture
def x(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.linspace(-1, 1, 30))
    return p


@pytest.mark.parametrize("extra, message", [
    (["--port", "/dev/ttyUSB9", "--waves", "w.vcd"], "--waves records the simulated board: use it with --port sim"),
    (["--port", "sim", "--waves", "w.txt"], "name the file .vcd or .fst"),
])
def test_waves_options_are_checked_first(cli, image, x, tmp_path, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, out, err = cli("run", image, "--input", x, *extra)
    assert rc == 2 and message in err and "starting the simulated board" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.full
def test_run_on_the_simulated_board_records_waves(cli, image, x, tmp_path):
    waves, y = tmp_path / "board.vcd", tmp_path / "y.npy"
    rc, out, err = cli("run", image, "--port", "sim", "--input", x, "-o", y, "--waves", waves)
    assert rc == 0, err
    names = signals(waves)
    assert any(n.endswith(".uart_rx") or n.endswith(".rx") for n in names) and len(names) > 100
    rc, _, err = cli("golden", image, "--input", x, "-o", tmp_path / "g.npy")
    np.testing.assert_array_equal(np.load(y), np.load(tmp_path / "g.npy"))
