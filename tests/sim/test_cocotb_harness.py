"""sim/cocotb_harness.py: waveforms on request and honest build progress.

Waves are recorded by a separately cached build into the file a run names
(.vcd from both simulators; .fst from Icarus, and from Verilator where the lz4
headers are installed); EIEGEN_WAVES=1 makes every harness run record them
and a failing run's error names the file."""

import numpy as np
import pytest

from eiegen.hw.eie.params import EIEParams
from eiegen.sim import cocotb_harness, eie_harness
from eiegen.sim.eie_golden import image_forward
from eiegen.sim.testdata import random_compressed_model, random_input
from eiegen.sim.wavefile import signals
from eiegen.sw.cli import main
from eiegen.sw.image import write_image
from eiegen.sw.packer import pack

# the memory geometry of tests/hw/eie/test_array.py, so builds are shared
PARAMS = EIEParams(n_pes=2, fifo_depth=2, spmat_depth=1024, ptr_depth=256, bias_depth=256,
                   act_depth=64, max_layers=4)
TOP_PORTS = ("clk", "rst", "start", "done")


@pytest.fixture
def layer(tmp_path):
    rng = np.random.default_rng(5)
    model = random_compressed_model(rng, [24, 16], 0.4)
    image = pack(model, PARAMS)
    write_image(image, tmp_path / "img")
    return image, tmp_path / "img", random_input(rng, 24, 0.7, batch=2)


def _holds_top(names, top):
    return all(f"{top}.{port}" in names for port in TOP_PORTS)


@pytest.mark.icarus
@pytest.mark.parametrize("fmt", ["vcd", "fst"])
def test_python_harness_records_waves(layer, tmp_path, fmt):
    image, idir, x = layer
    lines = []
    built = eie_harness.build(PARAMS, "icarus", waves=True, progress=lines.append)
    assert built.waves and "waves" in built.build_dir.name
    assert any("Icarus model of the 2-PE EIE array" in line for line in lines), lines
    path = tmp_path / f"eie.{fmt}"
    res = eie_harness.run(built, idir, x, waves=path)
    names = signals(path)
    assert _holds_top(names, eie_harness.TOPLEVEL), names[:20]
    golden = image_forward(image.decode(), x, frac=PARAMS.frac, acc_width=PARAMS.acc_width)
    np.testing.assert_array_equal(res["outputs"], golden)        # recording changes nothing


@pytest.mark.icarus
def test_waves_need_a_waves_build_and_a_known_suffix(layer, tmp_path):
    _, idir, x = layer
    plain = eie_harness.build(PARAMS, "icarus", waves=False, progress=False)
    assert "waves" not in plain.build_dir.name
    with pytest.raises(cocotb_harness.SimulationError, match="built without them"):
        eie_harness.run(plain, idir, x, waves=tmp_path / "w.vcd")
    built = eie_harness.build(PARAMS, "icarus", waves=True, progress=False)
    with pytest.raises(cocotb_harness.SimulationError, match=r"name the file \.vcd or \.fst"):
        eie_harness.run(built, idir, x, waves=tmp_path / "w.txt")


@pytest.mark.icarus
def test_eiegen_waves_env_records_and_a_failure_names_the_file(layer, tmp_path, monkeypatch):
    """What the README's Tests section tells a hardware engineer chasing a mismatch."""
    _, idir, x = layer
    monkeypatch.setenv(cocotb_harness.WAVES_ENV, "1")
    built = eie_harness.build(PARAMS, "icarus", progress=False)
    assert built.waves
    run_dir = tmp_path / "run"
    with pytest.raises(cocotb_harness.SimulationError, match=r"eie_top failed.*; waves in .*run/waves\.vcd"):
        eie_harness.run(built, idir, x, test_dir=run_dir, timeout_cycles=3)
    assert _holds_top(signals(run_dir / "waves.vcd"), eie_harness.TOPLEVEL)
    eie_harness.run(built, idir, x, test_dir=run_dir)
    assert _holds_top(signals(run_dir / "waves.vcd"), eie_harness.TOPLEVEL)


def test_systolic_run_records_fst_from_verilator(tmp_path, capsys):
    """Verilator's FST needs the lz4 headers (make test installs liblz4-dev where
    it can); without them the option is refused up front, naming the package."""
    path = tmp_path / "s.fst"
    rc = main(["systolic", "run", "--rows", "2", "--cols", "2", "-M", "3", "-K", "3", "-N", "2",
               "--waves", str(path)])
    out, err = capsys.readouterr()
    if cocotb_harness.have_verilator_fst():
        assert rc == 0, out + err
        assert f"wrote the waveforms to {path}" in out
        assert _holds_top(signals(path), "systolic_top")
    else:
        assert rc == 2 and "liblz4-dev" in err and not path.exists()


@pytest.mark.full
def test_systolic_run_records_vcd_from_verilator(tmp_path, capsys):
    path = tmp_path / "s.vcd"
    rc = main(["systolic", "run", "--rows", "2", "--cols", "2", "-M", "3", "-K", "3", "-N", "2",
               "--waves", str(path)])
    assert rc == 0, capsys.readouterr()
    assert _holds_top(signals(path), "systolic_top")


@pytest.mark.parametrize("argv, message", [
    (["systolic", "run", "--rows", "2", "--cols", "2", "--waves", "w.txt"], r"name the file .vcd or .fst"),
    (["sim", "--simulator", "none", "--waves", "w.vcd"], "needs --simulator verilator or icarus"),
    (["sim", "--waves", "w.ghw"], r"name the file .vcd or .fst"),
])
def test_bad_waves_options(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message.replace("\\", "") in err.replace("\\", "") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_cached_build_says_so(tmp_path):
    """Progress lines: a build either says it is cached or that it is building
    (then how long it took); the second call of the same build is cached."""
    lines = []
    built = eie_harness.build(PARAMS, "verilator", progress=lines.append)
    again = []
    eie_harness.build(PARAMS, "verilator", progress=again.append)
    assert again == [f"Verilator model of the 2-PE EIE array: cached ({built.build_dir})"]
    if not built.cached:
        # (a "generating the Verilog ..." line may come first)
        assert any(l.startswith("building the Verilator model of the 2-PE EIE array") for l in lines)
        assert lines[-1].startswith("  built in ")


def test_the_verilog_generation_is_not_silent(tmp_path, monkeypatch, capsys):
    """The README's Python snippet: the harness says what it does from the first
    second (converting a large array to Verilog takes a while before the
    simulator build starts); the Verilog is written whole. The simulator
    build itself is stubbed out here."""
    import types
    calls = []

    def fake_build(sources, toplevel, build_dir, **kw):
        calls.append(sources)
        kw["progress"]("(simulator build)")
        return types.SimpleNamespace(eiegen_cached=False)
    monkeypatch.setattr(cocotb_harness, "build", fake_build)
    p = EIEParams(n_pes=1, spmat_depth=16, ptr_depth=16, bias_depth=16, act_depth=16, max_layers=1)
    eie_harness.build(p, "verilator", build_root=tmp_path)            # progress=True: stderr
    err = capsys.readouterr().err.splitlines()
    assert err == ["generating the Verilog of the 1-PE EIE array ...", "(simulator build)"]
    vpath = calls[0][-1]
    assert vpath.read_text().lstrip().startswith("/* Generated by")
    assert [q.name for q in vpath.parent.iterdir() if q.name.startswith(".")] == []
    eie_harness.build(p, "verilator", build_root=tmp_path)            # Verilog there: no line for it
    assert capsys.readouterr().err.splitlines() == ["(simulator build)"]


def test_generator_digest_is_taken_once_and_covers_every_generator_file(tmp_path, monkeypatch):
    # A fake package: the digest covers every .py and .v under hw/ (any
    # sub-folder) and the extra files named, and is taken once per process:
    # a source edited after the harness imported the generators does not
    # give the old code's Verilog a new key.
    (tmp_path / "hw" / "common").mkdir(parents=True)
    (tmp_path / "hw" / "eie").mkdir()
    (tmp_path / "hw" / "common" / "dsp.py").write_text("A = 1\n")
    (tmp_path / "hw" / "eie" / "pe.py").write_text("B = 1\n")
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "top.py").write_text("C = 1\n")
    monkeypatch.setattr(cocotb_harness, "_PACKAGE", tmp_path)
    cocotb_harness._generator_digest.cache_clear()
    try:
        d = cocotb_harness.generator_digest()
        de = cocotb_harness.generator_digest("boards/top.py")
        assert d != de
        (tmp_path / "hw" / "common" / "dsp.py").write_text("A = 2\n")
        assert cocotb_harness.generator_digest() == d          # once per process
        cocotb_harness._generator_digest.cache_clear()
        d2 = cocotb_harness.generator_digest()
        assert d2 != d                                          # hw/common counts
        (tmp_path / "hw" / "eie" / "ram.v").write_text("module m; endmodule\n")
        (tmp_path / "hw" / "eie" / "notes.txt").write_text("not a source\n")
        cocotb_harness._generator_digest.cache_clear()
        d3 = cocotb_harness.generator_digest()
        assert d3 != d2                                         # .v files count
        (tmp_path / "hw" / "eie" / "notes.txt").write_text("still not a source\n")
        cocotb_harness._generator_digest.cache_clear()
        assert cocotb_harness.generator_digest() == d3
        (tmp_path / "boards" / "top.py").write_text("C = 2\n")
        cocotb_harness._generator_digest.cache_clear()
        assert cocotb_harness.generator_digest() == d3
        assert cocotb_harness.generator_digest("boards/top.py") != de
    finally:
        cocotb_harness._generator_digest.cache_clear()


def test_the_harnesses_key_their_builds_by_the_generator_digest():
    from eiegen.sim import board_harness
    from eiegen.sw.systolic import rtl
    d = cocotb_harness.generator_digest()
    assert eie_harness._SOURCE_DIGEST == d and rtl._SOURCE_DIGEST == d
    assert board_harness._SOURCE_DIGEST == cocotb_harness.generator_digest(
        "boards/top.py", "boards/clocking.py", "boards/board.py", "sim/board_top.py")
