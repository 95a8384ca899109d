"""The documents the code and docs cite are in the repository: every
`docs/NAME.md` named in a source, README or doc exists, and nothing cites
DESIGN.md, which never was in the repository (its content is docs/design.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for pkg in ("hw", "sw", "sim", "boards", "tests") for p in (ROOT / pkg).rglob("*.py")]
DOCS = [ROOT / "README.md", ROOT / "setup.py", ROOT / "pyproject.toml", ROOT / "Makefile",
        *(ROOT / "docs").glob("*.md")]


def _texts():
    for p in SOURCES + DOCS:
        if p != Path(__file__).resolve():
            yield p.relative_to(ROOT).as_posix(), p.read_text()


def test_cited_docs_exist():
    missing = sorted({f"{rel}: {m}" for rel, text in _texts()
                      for m in re.findall(r"docs/[\w.-]+\.md", text) if not (ROOT / m).exists()})
    assert not missing, missing


def test_nothing_cites_design_md_outside_the_repository():
    cites = [f"{rel}:{n}" for rel, text in _texts() for n, line in enumerate(text.splitlines(), 1)
             if "DESIGN.md" in line and not (rel == "docs/design.md" and "was the project's" in line)]
    assert not cites, cites
