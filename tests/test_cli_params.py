"""Parameter values converted without pydantic (``zerocve.cli._params``) come out exactly as
typer's own pydantic conversion makes them, for every parameter of every command, and a value
typer refuses is refused with typer's words; a whole command run converts its values without
importing pydantic."""

from __future__ import annotations

import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from zerocve import cli
from zerocve.cli import _params


def _parameters() -> list[tuple[str, Any, Any]]:
    """(command path, click command, parameter) of every command, subcommands included."""
    found = []

    def walk(command: Any, path: str) -> None:
        for param in command.params:
            found.append((f"{path} {param.name}", command, param))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(cli.app), "zerocve")
    return found


def _samples(annotation: Any, tmp: Path) -> list[Any]:
    """Values a command line may carry for ``annotation``, good and bad."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return [[v] for v in _samples(item, tmp)] + [tuple(_samples(item, tmp)[:2])]
    if annotation is bool:
        return [True, False, "yes", "off", "maybe"]
    if annotation is str:
        return ["", "a b", "docker://127.0.0.1:5000/x:1", "é\n"]
    if annotation is Path:
        return [str(tmp / "file"), str(tmp), str(tmp / "missing"), "", "-", "rel/../x"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [str(member.value) for member in annotation]
        return [*values, *(v.upper() for v in values), next(iter(annotation)), "no-such"]
    return ["1", "x"]  # numbers: typer converts them itself


def _outcome(runtime: Any, value: Any, param: Any, ctx: Context) -> tuple[str, Any]:
    try:
        return "value", runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as e:
        return "refused", e.format_message()


@pytest.mark.parametrize(("where", "command", "param"), _parameters(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_each_parameter_converts_as_typer_does(where: str, command: Any, param: Any,
                                               tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    descriptor = param.type_descriptor
    ctx = Context(command)
    ours, typers = _params._runtime_param(descriptor), build_runtime_param(descriptor)
    for value in _samples(descriptor.annotation, tmp_path):
        expected = _outcome(typers, value, param, ctx)
        got = _outcome(ours, value, param, ctx)
        assert got == expected, (where, value)
        assert type(got[1]) is type(expected[1]), (where, value)


def test_the_kinds_zerocve_declares_are_converted_here() -> None:
    """Every parameter but the numbers is converted without typer's pydantic adapters (a new
    kind of parameter would bring pydantic back into every run of its command)."""
    left = sorted({
        repr(param.type_descriptor.annotation)
        for _, _, param in _parameters()
        if not isinstance(_params._runtime_param(param.type_descriptor), _params._Converted)
    })
    assert left == ["<class 'float'>", "<class 'int'>"]


def _imported(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "zerocve", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "imported package" not in line}
    return done, modules


def test_a_command_runs_without_pydantic_and_refuses_bad_values_in_typers_words(
    tmp_path: Path,
) -> None:
    # A real run of `zerocve sbom` (every option converted, the target read, the file written).
    rootfs = tmp_path / "rootfs"
    (rootfs / "var/lib/dpkg").mkdir(parents=True)
    (rootfs / "var/lib/dpkg/status").write_text(
        "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n"
        "Architecture: amd64\n\n")
    (rootfs / "etc").mkdir()
    (rootfs / "etc/os-release").write_text("ID=debian\nVERSION_ID=\"12\"\n")
    out = tmp_path / "sbom.json"
    done, modules = _imported("-q", "sbom", f"dir:{rootfs}", "-o", "SPDX-JSON",
                              "--file", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "base-files" in out.read_text()
    assert not {m for m in modules if m.startswith("pydantic")}

    done, modules = _imported("scan", f"dir:{rootfs}", "-o", "yaml")
    assert done.returncode == 2
    assert "Invalid value for '--output' / '-o': Value error, 'yaml' is not one of 'table', " \
        "'json', 'sarif', 'cyclonedx', 'openvex'." in done.stderr
    done, _ = _imported("scan", f"dir:{rootfs}", "--vex", str(tmp_path))
    assert done.returncode == 2
    assert f"Invalid value for '--vex': file '{tmp_path}' is a directory." in done.stderr
