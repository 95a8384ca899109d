"""sw/bench/qor.py without place and route: the matrix option, the table
and the document it writes (the builds themselves are `eiegen bench qor`)."""

import pytest

from eiegen.sw.bench import discover
from eiegen.sw.bench.qor import parse_matrix, table, document, MARKER, MATRIX, QUICK_MATRIX
from eiegen.sw.errors import EiegenError


def test_qor_is_only_run_when_named():
    mods = dict(discover())
    assert mods["qor"].DEFAULT is False
    assert all(getattr(m, "DEFAULT", True) for n, m in mods.items() if n != "qor")
    assert set(QUICK_MATRIX) <= set(MATRIX)


def test_parse_matrix():
    assert parse_matrix("icebreaker:link, ulx3s:eie:16,icebreaker:systolic") == [
        ("icebreaker", "link", None), ("ulx3s", "eie", 16), ("icebreaker", "systolic", None)]
    for bad, msg in [("ulx3s", "board:design"), ("ulx3s:fpga", "board:design"),
                     ("ulx3s:eie:x", "size 'x'"), ("ulx3s:link:2", "no size"), (" , ", "empty")]:
        with pytest.raises(EiegenError, match=msg):
            parse_matrix(bad)


ROWS = [
    {"board": "icebreaker", "design": "link", "size": "link + null unit", "default": True,
     "clock_mhz": 12.0, "logic": 1100, "dsp": 0, "bram": 4, "spram": 0,
     "available": {"logic": 5280, "dsp": 8, "bram": 30, "spram": 4, "pll": 1},
     "fmax_mhz": 42.5, "met": True, "peak_gops": 0.0, "wall_s": 95, "result": "met"},
    {"board": "ulx3s", "design": "eie", "size": "8 PE(s)", "default": False, "clock_mhz": 100.0,
     "logic": 20000, "dsp": 8, "bram": 52, "spram": None,
     "available": {"logic": 83640, "dsp": 156, "bram": 208, "pll": 4},
     "fmax_mhz": 80.1, "met": False, "peak_gops": 1.6, "wall_s": 1200,
     "result": "timing not met"},
    {"board": "ulx3s", "design": "eie", "size": "64 PE(s)", "default": False, "clock_mhz": 25.0,
     "result": "failed: the design does not fit", "wall_s": 300},
]


def test_table_and_document():
    t = table(ROWS).splitlines()
    assert len(t) == 2 + len(ROWS)
    assert t[2] == ("| icebreaker | link | link + null unit | 12 MHz | 1100 / 5280 | "
                    "0 / 8 | 4 / 30 | 0 / 4 | 42.50 MHz | yes | 95 s | 0.000 |")
    assert "| 52 / 208 | - | 80.10 MHz | NO | 1200 s | 1.600 |" in t[3]
    assert "failed: the design does not fit" in t[4]
    doc = document(ROWS, "eiegen bench qor --quick", "tools x")
    assert doc.startswith(MARKER) and "    eiegen bench qor --quick\n" in doc and "tools x" in doc


def test_estimate_from_the_last_recorded_run_else_typical(tmp_path, monkeypatch):
    """`eiegen bench qor` prints an estimate first, like every benchmark: each
    build at the tools time docs/qor.md recorded for its row, else a typical time."""
    from eiegen.sw.bench import module_estimate, qor
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "qor.md").write_text(document(ROWS[:2], "eiegen bench qor", "tools x"))
    monkeypatch.setattr(qor, "_REPO", tmp_path)
    monkeypatch.setenv("EIEGEN_QOR", "icebreaker:link,ulx3s:eie:8,ulx3s:systolic")
    steps = module_estimate(qor, False, False)
    assert steps[0] == ("icebreaker link (as last recorded)", 95.0)
    assert steps[1] == ("ulx3s eie 8 PE(s) (as last recorded)", 1200.0)
    assert steps[2][0].startswith("ulx3s systolic ") and steps[2][0].endswith("(typical)")
    assert steps[2][1] == qor.TYPICAL_SECONDS[("ulx3s", "systolic")]
    monkeypatch.delenv("EIEGEN_QOR")
    assert [s for s, _ in module_estimate(qor, True, False)] == ["icebreaker link (as last recorded)"]
