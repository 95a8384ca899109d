"""Every recorded board build (tests/boards/fixtures/builds) is a real,
placed and routed build of a board this tree knows, and docs/boards.md's
table of them is exactly the one rendered from the records (no figure
typed by hand)."""

from pathlib import Path

import pytest

from eiegen.boards import recorded
from eiegen.boards.board import get_board
from eiegen.boards.report import parse_report

DOCS = Path(__file__).resolve().parents[2] / "docs" / "boards.md"
RECORDS = sorted(recorded.FIXTURES.glob("*.json"))


def test_there_are_records():
    assert RECORDS


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_record_is_a_build_of_a_known_board(path):
    doc = recorded.load(path)
    board = get_board(doc["board"])
    rep = parse_report(doc["nextpnr_report"], board)
    assert rep.clocks, "a record without timing"
    for what, (used, available) in rep.used.items():
        assert used <= available, (what, used, available)
    assert doc["command"].startswith("eiegen build --board " + doc["board"])
    # the clock in the record is the one nextpnr was given
    assert abs(rep.target_mhz - doc["sync_hz"] / 1e6) < 0.01


def test_docs_table_is_rendered_from_the_records():
    text = DOCS.read_text()
    assert recorded.BEGIN in text and recorded.END in text
    body = text.split(recorded.BEGIN, 1)[1].split(recorded.END, 1)[0].strip()
    assert body == recorded.table().strip()
