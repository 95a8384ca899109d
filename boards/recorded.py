"""Recorded board builds: each real build whose figures the docs quote is kept
as a fixture (tests/boards/fixtures/builds/NAME.json: the command, its date,
the board, design, generator parameters and clock, and nextpnr's report with
source paths as @REPO@), and docs/boards.md's table of them is rendered from
those files (tests/boards/test_recorded_builds.py keeps the two equal), so no
figure is typed by hand.

    python -m eiegen.boards.recorded      # print the table
"""

import json
from pathlib import Path

from .board import get_board
from .build import size_label
from .report import parse_report

__all__ = ["FIXTURES", "load", "row", "table", "BEGIN", "END"]

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "boards" / "fixtures" / "builds"
BEGIN = "<!-- recorded builds: rendered from tests/boards/fixtures/builds by `python -m eiegen.boards.recorded`; do not edit -->"
END = "<!-- end of recorded builds -->"


_REPO = Path(__file__).resolve().parent.parent


def load(path):
    """A recorded build, its source paths put back into this checkout."""
    return json.loads(Path(path).read_text().replace("@REPO@", str(_REPO)))


def _size(doc):
    p = doc["params"]
    if doc["design"] in ("eie", "eie-alone"):       # eie-alone: `eiegen build --alone`
        from ..hw.eie.params import EIEParams
        return size_label("eie", EIEParams.from_dict(p))
    if doc["design"] == "systolic":
        from ..hw.systolic.params import SystolicParams
        return size_label("systolic", SystolicParams(**p))
    return size_label(doc["design"], p)


def row(doc):
    board = get_board(doc["board"])
    rep = parse_report(doc["nextpnr_report"], board)
    u = rep.used

    def res(k):
        if k not in u or not u[k][1]:
            return "-"
        return f"{u[k][0]} / {u[k][1]}"

    cp = rep.critical_path or {}
    where = ", ".join((cp.get("sources") or [])[:2]) or "-"
    met = "met" if rep.timing_met else "NOT met"
    return (f"| {board.name} | {doc['design']}, {_size(doc)} | {doc['sync_hz'] / 1e6:g} MHz | "
            f"{res('logic')} {board.resources.logic_unit} | {res('dsp')} | {res('bram')} | {res('spram')} | "
            f"{rep.fmax_mhz:.2f} MHz ({met}) | {where} | `{doc['command']}`, {doc['date']} |")


def table(fixtures=None):
    paths = sorted(Path(fixtures or FIXTURES).glob("*.json"))
    lines = ["| board | unit | clock | logic | DSP | block RAM | SPRAM | Fmax | critical path through | command, date |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [row(load(p)) for p in paths]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
