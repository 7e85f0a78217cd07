"""The code's shape: no import circle in `providers/` or `emulator/`, and the emulator never imports the provider."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def import_graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (at any level, TYPE_CHECKING blocks included)."""
    files = {".".join(path.relative_to(REPO / package).with_suffix("").parts).removesuffix(".__init__"): path
             for path in (REPO / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                parts = target.split(".")
                if parts[0] != package:
                    continue
                # the longest prefix that is a module of the package (`client.EndpointError` -> `client`)
                for end in range(len(parts), 1, -1):
                    module = ".".join(parts[1:end])
                    if module in files and module != name:
                        edges.add(module)
                        break
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt in graph and nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


@pytest.mark.parametrize("package", ["providers", "emulator"])
def test_no_import_circle(package):
    """Modules depend one way (e.g. emulator: errors <- wire <- models <- store <- tgi/app)."""
    graph = import_graph(package)
    assert len(graph) > 5
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_emulator_stands_alone():
    """The emulator stands in for the real API: it must not share code with the provider it is testing."""
    for path in (REPO / "emulator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(name == "providers" or name.startswith("providers.") for name in names), path


def test_only_the_engines_package_names_an_engine():
    """Adding an engine is one module in providers/engines/ and one registry line: no other module of providers/
    holds an engine's name or API variant as a string (docstrings and comments aside)."""
    from providers import engines

    names = {name for engine in engines.REGISTERED for name in (engine.name, engine.variant)}
    found = []
    for path in (REPO / "providers").rglob("*.py"):
        if "engines" in path.relative_to(REPO / "providers").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_every_registered_engine_is_one_module_of_the_package():
    from providers import engines

    modules = {path.stem for path in (REPO / "providers" / "engines").glob("*.py")} - {"__init__", "base"}
    assert {type(engine).__module__.rsplit(".", 1)[-1] for engine in engines.REGISTERED} == modules
    assert len(engines.ENGINES) == len(engines.REGISTERED) == len(engines.BY_VARIANT)
