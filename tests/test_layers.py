"""The layers of the code point one way (../shared/STYLE.md, "Layers";
docs/design.md): core (plain Python and numpy) <- RTL (Amaranth) <- harness
and targets <- apps. Every import of every module, including those inside
functions, is read from the source (ast), and an import of a higher layer
fails this test with the file, the line and the edge."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hw", "sw", "sim", "boards")

CORE, RTL, HARNESS, APP_LIB, COMMANDS, CLI = 0, 1, 2, 3, 4, 5
NAMES = {CORE: "core", RTL: "RTL", HARNESS: "harness/targets", APP_LIB: "apps (simflow, bench)",
         COMMANDS: "apps (commands)", CLI: "apps (cli)"}

#: modules by layer (paths relative to the repository root, without .py); the
#: first matching rule wins, so specific rules come before folder rules
RULES = [
    # apps: sw/cli -> sw/commands -> sw/simflow, sw/bench
    ("sw/cli", CLI), ("sw/commands/", COMMANDS), ("sw/simflow", APP_LIB), ("sw/bench/", APP_LIB),
    ("sw/docsfig", APP_LIB),     # make docs-figures: runs the commands and reads the benchmarks
    # harness and targets
    ("sim/cocotb_", HARNESS), ("sim/board_", HARNESS), ("sim/hostlink_dummy", HARNESS),
    ("sim/lockstep", HARNESS), ("sim/amaranth_sim", HARNESS), ("sim/formal", HARNESS),
    ("sim/eie_harness", HARNESS), ("boards/", HARNESS), ("sw/toolchain", HARNESS),
    ("sw/link/client", HARNESS), ("sw/link/transport", HARNESS), ("sw/link/connect", HARNESS),
    ("sw/systolic/rtl", HARNESS), ("sw/systolic/__init__", HARNESS),
    # plain-Python parameter and ISA modules of the RTL folders are core
    ("hw/eie/params", CORE), ("hw/eie/timing", CORE), ("hw/systolic/params", CORE),
    ("hw/systolic/isa", CORE),
    ("hw/", RTL),
    ("sim/", CORE), ("sw/", CORE),
]


def layer_of(rel):
    for prefix, layer in RULES:
        if rel.startswith(prefix):
            return layer
    return None


def modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield path


def _resolve(path, node):
    """The repository-relative module path an import names, or None when it
    leaves the project (numpy, amaranth, ...)."""
    rel_pkg = path.relative_to(ROOT).parent
    if isinstance(node, ast.ImportFrom):
        if node.level == 0:
            name = node.module or ""
            if not name.startswith("eiegen."):
                return []
            base = name.split(".")[1:]
        else:
            parts = list(rel_pkg.parts)
            up = node.level - 1
            if up > len(parts):
                return []
            base = parts[:len(parts) - up] + (node.module.split(".") if node.module else [])
        targets = []
        for alias in node.names:
            cand = ROOT.joinpath(*base, alias.name)
            if cand.with_suffix(".py").exists() or (cand / "__init__.py").exists():
                targets.append("/".join(base + [alias.name]))
            else:
                targets.append("/".join(base))
        return targets
    out = []
    for alias in node.names:
        if alias.name.startswith("eiegen."):
            out.append("/".join(alias.name.split(".")[1:]))
    return out


def edges():
    for path in modules():
        rel = path.relative_to(ROOT).with_suffix("").as_posix()
        src = layer_of(rel)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(path, node):
                    if (ROOT / target).is_dir():
                        target += "/__init__"
                    yield rel, node.lineno, target, src, layer_of(target)


def test_every_module_has_a_layer():
    missing = [p.relative_to(ROOT).as_posix() for p in modules()
               if layer_of(p.relative_to(ROOT).with_suffix("").as_posix()) is None]
    assert not missing, missing


def test_imports_point_down():
    bad = [f"{rel}.py:{line}: {NAMES[src]} imports {NAMES[dst]} ({target})"
           for rel, line, target, src, dst in edges()
           if src is not None and dst is not None and dst > src]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_walk_sees_function_level_imports():
    # the test itself must notice an import inside a function
    found = [(rel, target) for rel, _, target, _, _ in edges()]
    assert found, "no project import found: the walk is broken"
    sample = ROOT / "sim" / "eie_cycles.py"
    tree = ast.parse(sample.read_text())
    inner = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
             for n in ast.walk(f) if isinstance(n, ast.ImportFrom)]
    assert inner and any(rel == "sim/eie_cycles" and t.startswith("sim/eie_golden")
                         for rel, t in found)


def test_no_import_cycles():
    """No circle of imports between project modules (a package importing its
    own modules is not a circle)."""
    graph = {}
    for rel, _, target, _, _ in edges():
        if target.endswith("/__init__") and rel.startswith(target[:-len("__init__")]):
            continue
        if rel.endswith("/__init__"):
            continue
        graph.setdefault(rel, set()).add(target)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
