"""YAML and JSON bombs: small files that expand to gigabytes, or nest until the parser's
stack overflows, are refused with one line before they cost memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_measured, run_zerocve

from zerocve.safe_load import MAX_DEPTH, LoadError, load_json, load_yaml

# Far below what the bombs cost unrefused (the spec bomb took 2 GB), well above an interpreter
# that imports zerocve.
PEAK_LIMIT_MIB = 150


HEAD = (
    "contents:\n  packages: [python3]\n"
    "  repositories: [{uri: 'file:///nonexistent', suites: [bookworm]}]\n"
)


def wide_bomb(items: int = 600, copies: int = 600) -> str:
    """``test:`` holding one command of ``items`` numbers, then ``copies`` aliases of it: 7 KB
    of YAML, and one validation error per number once expanded (the 12 KB version of this,
    1000 by 1000, took 1.1 GB unrefused)."""
    words = ", ".join(["1"] * items)
    return HEAD + "test:\n  - &cmd [" + words + "]\n" + "  - *cmd\n" * copies


def deep_bomb(levels: int = 9, fanout: int = 9) -> str:
    """The classic "billion laughs": each level references the one below ``fanout`` times."""
    lines = ["  - &x0 [lol]"]
    for level in range(1, levels):
        lines.append(f"  - &x{level} [{', '.join([f'*x{level - 1}'] * fanout)}]")
    return HEAD + "test:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("bomb", [wide_bomb(), deep_bomb()], ids=["wide", "deep"])
def test_alias_bomb_in_spec_is_refused_cheaply(tmp_path: Path, bomb: str) -> None:
    spec = tmp_path / "image.yaml"
    spec.write_text(bomb)
    done, peak = run_measured("lock", str(spec))
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3, done.stderr
    line = one_error_line(done)
    assert f"{spec}:" in line and "invalid YAML" in line and "alias" in line


def test_many_aliases_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "image.yaml"
    spec.write_text("p: &p python3\ncontents:\n  packages: [" + ", ".join(["*p"] * 1000) + "]\n")
    done = run_zerocve("lock", str(spec))
    assert done.returncode == 3
    assert "aliases" in one_error_line(done)


@pytest.mark.parametrize(
    "text",
    ["test:\n  - " + "[" * 100_000 + "]" * 100_000, "a:\n" + "".join(
        " " * i + f"k{i}:\n" for i in range(1, 2 * MAX_DEPTH)) + " " * 2 * MAX_DEPTH + "v\n"],
    ids=["flow", "block"],
)
def test_deep_yaml_is_refused(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "image.yaml"
    spec.write_text(text)
    done = run_zerocve("lock", str(spec))
    assert done.returncode == 3
    assert "levels deep" in one_error_line(done)


def test_lock_nested_deeper_than_the_cap_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "image.yaml"
    spec.write_text("contents:\n  packages: [python3]\n")
    lock = tmp_path / "image.lock.json"
    lock.write_text('{"archs": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}")
    done = run_zerocve("build", str(spec), "--locked", "-o", str(tmp_path / "out"))
    assert done.returncode == 3
    line = one_error_line(done)
    assert str(lock) in line and f"nested more than {MAX_DEPTH} levels deep" in line


def test_the_loaders_bound_every_caller() -> None:
    """One loader for YAML and one for JSON, with their caps, whoever calls them."""
    with pytest.raises(LoadError, match="JSON document larger than 10 bytes"):
        load_json(b"[" + b"1," * 10 + b"1]", max_bytes=10)
    value = load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == []
    with pytest.raises(LoadError, match="levels deep"):
        load_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert load_yaml("a: &a [1]\nb: *a\n") == {"a": [1], "b": [1]}
