"""The package's layers read one way: every ``workbench`` import, wherever it stands, points down.

Counts imports inside functions too (a deferred import hides a cycle; it does not remove it). The ranks are
the picture in README "Where things are" and ../shared/DESIGN.md: kernels and calendar at the bottom, then
tariffs and meter data, VEE, the engine, net-metering settlement, bill runs, sample generation, the design
wing, dashboards and the command line on top. Two packages of the same rank never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import workbench

PACKAGE = Path(workbench.__file__).resolve().parent

RANKS = {
    "": 0, "errors": 0,  # the package itself (its version) and the errors every layer raises
    "kernels": 1, "outputs": 1, "heap": 1,  # numba kernels; safe output folders, atomic writes and locks; malloc tuning
    "calendar": 2,
    "tariffs": 3, "ami": 3,
    "vee": 4,
    "engine": 5,
    "nem": 6,
    "billing": 7,
    "sample": 8,
    "documents": 8.5,  # bill documents (Jinja2 HTML, WeasyPrint PDF)
    "ledger": 9, "design": 9,  # the ledger (accounts, posting, payments, receivables); rate design and cost of service
    "runs": 9.5, "filing": 9.5,  # audited cycle runs (exceptions, posting, documents); PUC filing schedules
    "app": 10,
    "cli_errors": 11, "cli_logging": 11, "cli_parser": 11.5,
    # each wing's subcommands: workbench/cli_<wing>.py, listed in cli_wings.WINGS
    "cli_ledger": 11.7, "cli_runs": 11.7, "cli_design": 11.6, "cli_cos": 11.7, "cli_filing": 11.7, "cli_payments": 11.7,
    "cli_receivables": 11.7, "cli_glexport": 11.7, "cli_collections": 11.7, "cli_disconnect": 11.7,
    "cli_wings": 11.9,  # lists the wings; cli.wings() imports it
    "cli": 12, "__main__": 13,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every workbench module ``name`` imports, at the top or inside a function."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            # ``from pkg import submodule`` imports the submodule; ``from pkg import name`` imports pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "workbench":
                continue
            while target and target not in MODULES:  # workbench.a.b.name -> workbench.a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_rank():
    assert len(MODULES) > 50, "the walk found too few modules: is the package where this test looks?"
    unranked = sorted({_package(m) for m in MODULES} - set(RANKS))
    assert not unranked, f"give these packages a rank in RANKS (and in the README's picture): {unranked}"


def test_imports_point_down():
    upward = []
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _package(module), _package(target)
            if a == b:
                continue
            if RANKS[b] > RANKS[a] or (RANKS[b] == RANKS[a] and b != ""):
                upward.append(f"{module} -> {target} ({a} rank {RANKS[a]}, {b} rank {RANKS[b]})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


def test_kernels_import_nothing_of_ours():
    bad = [f"{m} -> {t}" for m, targets in GRAPH.items() if _package(m) == "kernels"
           for t in targets if _package(t) != "kernels"]
    assert not bad, bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_cycles():
    assert not _cycles(GRAPH), _cycles(GRAPH)


def test_the_cycle_finder_finds_a_cycle():
    # the check above must be able to fail: a two-module cycle and a three-module one are found
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}}) == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize("limit", [400])
def test_files_stay_small(limit):
    over = {str(p.relative_to(PACKAGE.parent)): n for p in MODULES.values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit}
    assert not over, f"modules over ~{limit} lines (split them by concern): {over}"
