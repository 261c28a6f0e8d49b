"""Dependencies point one way (DESIGN.md: cli → service → fleet → api → build/vuln/sign →
oci/debian → spec). Every module under src/zerocve is parsed with ``ast`` and every import
counts, also one inside a function or under TYPE_CHECKING: a lazy import is still a
dependency."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "zerocve"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. zerocve.vuln.db
    target: str  # the imported module, e.g. zerocve.sbom.purls

    def __str__(self) -> str:
        return f"{self.module} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """What module ``name`` (at ``path``) imports: ``from zerocve.x import y`` may name the
    module ``zerocve.x.y`` or a name in ``zerocve.x``, so both are returned and the caller
    keeps those that exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def all_imports() -> list[Import]:
    """Every import of one zerocve module by another."""
    found = modules()
    return [
        Import(name, target)
        for name, path in found.items()
        for target in sorted(imports_of(name, path))
        if target in found and target != name
    ]


def unit(module: str) -> str:
    """The top-level part a module belongs to: zerocve.vuln.db → vuln, zerocve.api → api."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def within(module: str, part: str) -> bool:
    return module == f"{PACKAGE}.{part}" or module.startswith(f"{PACKAGE}.{part}.")


def test_the_scan_finds_imports() -> None:
    """The parser itself: it must see lazy, relative and ``from zerocve import x`` imports."""
    edges = {(e.module, e.target) for e in all_imports()}
    assert ("zerocve.cli.build_cmd", "zerocve.api") in edges
    assert ("zerocve.api", "zerocve.assemble.image") in edges  # inside a function
    assert len(edges) > 300


@pytest.mark.parametrize(("one", "other"), [("vuln", "sbom"), ("sbom", "vuln")])
def test_vuln_and_sbom_do_not_import_each_other(one: str, other: str) -> None:
    crossing = [str(e) for e in all_imports() if within(e.module, one) and within(e.target, other)]
    assert crossing == [], (
        f"{one} must not import {other} (purls and cache paths live in neutral modules): "
        + "; ".join(crossing)
    )


def test_no_library_module_imports_the_cli() -> None:
    offending = [
        str(e)
        for e in all_imports()
        if within(e.target, "cli")
        and not within(e.module, "cli")
        and e.module != "zerocve.__main__"
    ]
    assert offending == [], "; ".join(offending)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first node repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == 1:
                return [*path[path.index(successor):], successor]
            if successor not in state and (found := visit(successor)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_between_top_level_parts() -> None:
    graph: dict[str, set[str]] = {}
    witnesses: dict[tuple[str, str], Import] = {}
    for edge in all_imports():
        source, target = unit(edge.module), unit(edge.target)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)
            witnesses.setdefault((source, target), edge)
    cycle = _cycle(graph)
    assert cycle is None, "cycle " + " → ".join(cycle) + ": " + "; ".join(
        str(witnesses[(a, b)]) for a, b in zip(cycle, cycle[1:], strict=False)
    )


# Only Settings reads the environment (and the CLI its passphrase variable, and the CLI's front
# door, whose build receipts are keyed by the whole environment of the process it answers
# for): everything below is given what it needs, so a daemon can run many settings in one
# process.
ENVIRONMENT_READERS = {"zerocve.settings", "zerocve.cli._keys", "zerocve.cli._front"}
_ENVIRONMENT = {"environ", "environb", "getenv", "getenvb"}


def environment_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ``/``os.getenv`` (or import them from os)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr in _ENVIRONMENT
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            lines.append(node.lineno)
        elif (isinstance(node, ast.ImportFrom) and node.module == "os"
              and any(alias.name in _ENVIRONMENT for alias in node.names)):
            lines.append(node.lineno)
    return lines


def test_only_settings_reads_the_environment() -> None:
    readers = [
        f"{name} (line {line})"
        for name, path in modules().items()
        if name not in ENVIRONMENT_READERS
        for line in environment_reads(path)
    ]
    assert readers == [], "reads the environment outside zerocve.settings: " + "; ".join(readers)


def test_environment_reads_are_seen(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom os import getenv\n\n\ndef f():\n"
                      "    return os.environ.get('X')\n")
    assert environment_reads(sample) == [2, 6]
    assert environment_reads(SRC / "zerocve" / "settings.py")


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "d": {"a"}}) is None
