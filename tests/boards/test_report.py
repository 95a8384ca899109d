"""boards/report.py on a recorded nextpnr-ice40 --report JSON (an iCEBreaker
build of the 1-PE EIE top): resources, Fmax, the timing check, the critical
path summary, and clear errors for missing or inconsistent reports."""

import copy
import json
from pathlib import Path

import pytest

from eiegen.boards.board import get_board
from eiegen.boards.report import (parse_report, check_timing, format_report, TimingError, ReportError,
                                  critical_path_summary)

FIXTURE = Path(__file__).parent / "fixtures" / "icebreaker_eie_1pe_report.json"
REPO = Path(__file__).resolve().parents[2]


def _fixture(path):
    """A recorded nextpnr report; its source paths were recorded as @REPO@/...,
    put back into this checkout so that they read as repository sources."""
    return json.loads(path.read_text().replace("@REPO@", str(REPO)))


@pytest.fixture
def raw():
    return _fixture(FIXTURE)


@pytest.fixture
def ice():
    return get_board("icebreaker")


def test_resources_and_fmax(raw, ice):
    r = parse_report(_fixture(FIXTURE), ice)
    u = raw["utilization"]
    assert r.used["logic"] == (u["ICESTORM_LC"]["used"], 5280)
    assert r.used["dsp"] == (u["ICESTORM_DSP"]["used"], 8)
    assert r.used["bram"] == (u["ICESTORM_RAM"]["used"], 30)
    assert r.used["spram"] == (u["ICESTORM_SPRAM"]["used"], 4)
    assert r.used["spram"][0] >= 1          # the sparse-matrix memory sits in SPRAM
    (name, v), = raw["fmax"].items()
    assert r.fmax_mhz == pytest.approx(v["achieved"])
    assert r.target_mhz == pytest.approx(12.0, rel=1e-5)
    assert r.timing_met
    check_timing(r)                          # does not raise
    d = r.to_dict()
    assert d["timing_met"] and d["used"]["logic"]["available"] == 5280


def test_timing_failure_is_an_error_naming_both_frequencies(raw, ice):
    bad = copy.deepcopy(raw)
    (name, v), = bad["fmax"].items()
    v["constraint"] = v["achieved"] * 1.25
    r = parse_report(bad, ice)
    assert not r.timing_met
    with pytest.raises(TimingError) as e:
        check_timing(r, where="icebreaker eie")
    msg = str(e.value)
    assert f"{v['achieved']:.2f} MHz" in msg and f"{v['constraint']:.2f} MHz" in msg
    assert "icebreaker eie" in msg and name in msg
    assert "NOT MET" in format_report(r)


def test_float32_rounding_of_an_exactly_met_clock_counts_as_met(raw, ice):
    r = parse_report(raw, ice)
    r.clocks[0].achieved_mhz = r.clocks[0].target_mhz * (1 - 1e-8)
    assert r.timing_met


def test_no_clock_is_an_error(raw, ice):
    raw["fmax"] = {}
    with pytest.raises(TimingError, match="no clock"):
        check_timing(parse_report(raw, ice))


def test_critical_path_points_at_repository_sources(raw, ice):
    r = parse_report(raw, ice)
    cp = r.critical_path
    assert cp["delay_ns"] == pytest.approx(cp["logic_ns"] + cp["routing_ns"], abs=1e-3)
    assert cp["cells"] >= 2
    assert cp["sources"] and all(s.endswith(tuple("0123456789")) and not s.startswith("/")
                                 for s in cp["sources"])
    # delays add up to the path's total in nextpnr's own figures
    steps = raw["critical_paths"][0]["path"]
    total = critical_path_summary(raw["critical_paths"][0])
    assert total["delay_ns"] <= sum(s["delay"] for s in steps) + 1e-6
    text = format_report(r, title="T")
    assert text.startswith("T") and "logic (LC)" in text and "critical path" in text
    assert "timing met" in text


def test_malformed_reports(tmp_path, raw, ice):
    with pytest.raises(ReportError, match="cannot read"):
        parse_report(tmp_path / "none.json", ice)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ReportError, match="not a JSON report"):
        parse_report(tmp_path / "bad.json", ice)
    with pytest.raises(ReportError, match="not a nextpnr report"):
        parse_report({"utilization": {}}, ice)
    wrong = copy.deepcopy(raw)
    wrong["utilization"]["ICESTORM_LC"]["available"] = 7680
    with pytest.raises(ReportError, match=r"7680 ICESTORM_LC.*says 5280.*boards/icebreaker.py"):
        parse_report(wrong, ice)
    gone = copy.deepcopy(raw)
    del gone["utilization"]["ICESTORM_SPRAM"]
    with pytest.raises(ReportError, match="no 'ICESTORM_SPRAM'"):
        parse_report(gone, ice)


def test_other_board_does_not_accept_the_ice40_report(raw):
    with pytest.raises(ReportError, match="TRELLIS_COMB"):
        parse_report(raw, get_board("ulx3s"))


ECP5_FIXTURE = Path(__file__).parent / "fixtures" / "ulx3s_eie_8pe_report.json"


def test_ecp5_report_of_the_ulx3s():
    raw = _fixture(ECP5_FIXTURE)
    ulx = get_board("ulx3s")
    r = parse_report(raw, ulx)
    u = raw["utilization"]
    assert r.used["logic"] == (u["TRELLIS_COMB"]["used"], 83640)
    assert r.used["dsp"] == (u["MULT18X18D"]["used"], 156) and r.used["dsp"][0] == 8   # one per PE
    assert r.used["bram"] == (u["DP16KD"]["used"], 208)
    assert "spram" not in r.used
    assert r.target_mhz == pytest.approx(25.0, rel=1e-5) and r.timing_met
    assert "logic (LUT4)" in format_report(r)
    assert any(s.startswith("hw/") for s in r.critical_path["sources"])


def test_throughput_lines(raw, ice):
    import numpy as np
    from eiegen.boards.build import throughput, multipliers
    from eiegen.sim.testdata import random_compressed_model
    from eiegen.sw.fit import inference_cycles
    from eiegen.sw.packer import pack
    r = parse_report(raw, ice)
    p = ice.eie_params(n_pes=2, act_depth=32)
    t = throughput(r, "eie", p)
    assert t.multipliers == multipliers("eie", p) == 2
    assert t.clock_met and t.clock_mhz == pytest.approx(r.target_mhz)
    assert t.peak_gops == pytest.approx(2 * 2 * r.target_mhz / 1e3)
    assert t.cycles is None and len(t.lines()) == 1
    image = pack(random_compressed_model(np.random.default_rng(2), [40, 24, 10], 0.4), p)
    t = throughput(r, "eie", p, image, "img")
    cycles = inference_cycles(image, p.fifo_depth)[0]
    assert t.cycles == cycles
    us = cycles / r.target_mhz
    assert t.us_per_inference == pytest.approx(us)
    dense = 2 * (40 * 24 + 24 * 10)
    assert t.effective_gops == pytest.approx(dense / (us * 1e-6) / 1e9)
    assert t.nonzero_gops == pytest.approx(2 * sum(l.nonzeros for l in image.layers)
                                           / (us * 1e-6) / 1e9)
    text = format_report(r, title="T", throughput=t)
    assert f"throughput: peak {t.peak_gops:.3f} GOP/s (2 x 2 multiplier(s) x {r.target_mhz:.2f} MHz)" in text
    assert f"on img: {cycles:.0f} cycles per inference (cycle model, every activation non-zero)" in text
    d = t.to_dict()
    assert d["effective_gops"] == round(t.effective_gops, 4) and d["model"] == "img"
    # timing not met: the figures are at Fmax, and say so
    bad = copy.deepcopy(raw)
    (name, v), = bad["fmax"].items()
    v["constraint"] = v["achieved"] * 2
    t = throughput(parse_report(bad, ice), "systolic", ice.systolic_params(rows=2, cols=3))
    assert t.multipliers == 6 and not t.clock_met
    assert t.clock_mhz == pytest.approx(v["achieved"])
    assert "(Fmax: timing not met)" in t.lines()[0]
    assert throughput(r, "link", None).peak_gops == 0
