"""boards/capacity.py: block RAM arithmetic, the memory estimate of an array
on a board, and the capacity table of docs/boards.md, which must stay equal
to what the boards' default parameters give."""

from pathlib import Path

import pytest

from eiegen.boards.board import get_board, board_names
from eiegen.boards.capacity import (ram_blocks, memory_blocks, capacity_table, doc_section,
                                    replace_doc_section, LINK_BLOCKS, DOC_BEGIN, DOC_END)
from eiegen.sw.fit import capacity

DOC = Path(__file__).resolve().parents[2] / "docs" / "boards.md"


@pytest.mark.parametrize("family, width, depth, blocks", [
    ("ice40", 16, 256, 1), ("ice40", 16, 257, 2), ("ice40", 8, 512, 1), ("ice40", 1, 2048, 1),
    ("ice40", 64, 4, 4), ("ice40", 13, 1024, 4),
    ("ecp5", 36, 512, 1), ("ecp5", 16, 1024, 1), ("ecp5", 64, 4, 2), ("ecp5", 1, 16384, 1),
    ("ecp5", 18, 2048, 2),
])
def test_ram_blocks(family, width, depth, blocks):
    assert ram_blocks(family, width, depth) == blocks


def test_memory_estimate_of_the_default_arrays():
    ice = get_board("icebreaker")
    p = ice.eie_params()
    est = memory_blocks(ice, p)
    assert est["spram"] == p.n_pes                 # one SB_SPRAM256KA sparse matrix per PE
    assert est["by_memory"]["spmat"] == (0, p.n_pes)
    assert est["by_memory"]["host link"] == (LINK_BLOCKS["ice40"], 0)
    assert est["bram"] == sum(b for b, _ in est["by_memory"].values())
    assert est["bram"] <= ice.resources.bram
    ulx = get_board("ulx3s")
    q = ulx.eie_params()
    est = memory_blocks(ulx, q)
    assert est["spram"] == 0
    assert est["by_memory"]["spmat"][0] == q.n_pes * ram_blocks("ecp5", q.spmat_width, q.spmat_depth)
    # half the PEs: every per-PE memory half
    half = memory_blocks(ulx, q.replace(n_pes=q.n_pes // 2))
    for name in ("spmat", "ptr_even + ptr_odd", "act0 + act1 + bias"):
        assert 2 * half["by_memory"][name][0] == est["by_memory"][name][0]


def test_memory_estimate_equals_every_recorded_build():
    # the estimate is the build's layout: the block RAMs and SPRAMs nextpnr
    # placed in every recorded EIE build (tests/boards/fixtures/builds), the
    # host link counted only in the board builds (not `--alone`)
    from eiegen.boards import recorded
    from eiegen.boards.report import parse_report
    from eiegen.hw.eie.params import EIEParams
    seen = set()
    for path in sorted(recorded.FIXTURES.glob("*.json")):
        doc = recorded.load(path)
        if doc["design"] not in ("eie", "eie-alone"):
            continue
        board = get_board(doc["board"])
        used = parse_report(doc["nextpnr_report"], board).used
        est = memory_blocks(board, EIEParams.from_dict(doc["params"]), link=doc["design"] == "eie")
        if "link_block_rams" in doc:                # a build with the earlier host link
            est["bram"] += doc["link_block_rams"] - LINK_BLOCKS[board.family]
        assert est["bram"] == used["bram"][0], path.name
        assert est["spram"] == (used["spram"][0] if "spram" in used else 0), path.name
        seen.add((board.family, doc["design"]))
    assert seen == {("ice40", "eie"), ("ice40", "eie-alone"), ("ecp5", "eie"), ("ecp5", "eie-alone")}


def test_capacity_table_comes_from_the_board_params():
    boards = [get_board(n) for n in board_names()]
    rows = capacity_table(boards).splitlines()
    assert len(rows) == 2 + len(boards)
    for board, row in zip(boards, rows[2:]):
        c = capacity(board.eie_params())
        cells = [x.strip() for x in row.strip("|").split("|")]
        assert cells[0] == f"`{board.name}`"
        assert cells[2] == f"{c['max_inputs']} / {c['max_outputs']}"
        assert cells[3:] == [str(c[k]) for k in ("entries_per_pe", "nonzeros", "pointers", "rows",
                                                 "layers")]


def test_docs_boards_md_shows_the_current_defaults():
    table = capacity_table([get_board(n) for n in board_names()])
    assert doc_section(DOC.read_text()) == table, (
        "docs/boards.md's capacity table is stale (a board's default parameters changed): "
        "run `eiegen fit --capacity --update docs/boards.md`")


def test_replace_doc_section():
    text = f"a\n{DOC_BEGIN}\nold\n{DOC_END}\nb\n"
    assert replace_doc_section(text, "new") == f"a\n{DOC_BEGIN}\nnew\n{DOC_END}\nb\n"
    with pytest.raises(ValueError, match="no capacity table markers"):
        replace_doc_section("no markers", "new")
