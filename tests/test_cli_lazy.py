"""The command line imports a command's module only when that command runs: `zerocve --help`
lists every command from a table of summaries, and `--version` needs none of them. The table
is checked against each command's own help, so the listing cannot drift from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import typer.main

from zerocve import cli
from zerocve.cli import _app

# Heavy dependencies no command listing needs (--help and --version run no command).
HEAVY = ("pydantic", "httpx", "sqlalchemy", "sqlite3", "yaml", "rich.progress", "zerocve.api",
         "zerocve.assemble", "zerocve.fleet", "zerocve.sign", "zerocve.vuln", "zerocve.debian")


def _imports(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "zerocve", *args],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    return done, modules


def _commands_and_heavy(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules
        if m.startswith(HEAVY) or (m.startswith("zerocve.cli.") and m.endswith("_cmd"))
    )


def test_help_lists_every_command_without_importing_one() -> None:
    done, modules = _imports("--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _commands_and_heavy(modules) == []
    for name, command in _app.COMMANDS.items():
        line = next((row for row in done.stdout.splitlines() if f"│ {name} " in row), None)
        assert line is not None, f"{name} not listed:\n{done.stdout}"
        assert command.summary.split()[0] in line


def test_version_imports_no_command() -> None:
    done, modules = _imports("--version")
    assert done.returncode == 0 and done.stdout.startswith("zerocve "), done.stderr[-2000:]
    assert _commands_and_heavy(modules) == []


def test_summaries_are_each_commands_own_help() -> None:
    group = typer.main.get_command(cli.app)  # every command module imported
    assert isinstance(group, typer.core.TyperGroup)
    for name, listed in _app.COMMANDS.items():
        real = group.commands[name]
        first_paragraph = " ".join((real.help or "").split("\n\n")[0].split())
        assert listed.summary == first_paragraph, name


def test_a_command_resolves_to_its_real_definition() -> None:
    done = subprocess.run([sys.executable, "-m", "zerocve", "db", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "update" in done.stdout and "remove" in done.stdout  # its subcommands, not a stub
    typo = subprocess.run([sys.executable, "-m", "zerocve", "scna"],
                          capture_output=True, text=True, timeout=60)
    assert typo.returncode == 2 and "Did you mean 'scan'?" in typo.stderr


def test_lock_from_a_local_repository_imports_neither_rich_nor_httpx(spec_file) -> None:
    """`zerocve lock` prints its one line as plain text: rich, a tenth of its start-up, is
    not imported (nor httpx, for a file:// repository)."""
    spec = spec_file(["tzdata"])
    done, modules = _imports("-q", "lock", str(spec))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{spec.with_name('image.lock.json')}: amd64: 1 packages")
    assert sorted(m for m in modules if m.startswith(("rich", "httpx"))) == []


def test_a_quiet_cold_build_from_a_local_repository_imports_neither_rich_nor_httpx(
    spec_file, tmp_path
) -> None:
    """`zerocve -q build` with no lock resolves and builds in one process and prints the
    digest as plain text: neither rich nor httpx (a file:// repository) is imported."""
    spec = spec_file(["tzdata"])
    out = tmp_path / "out"
    done, modules = _imports("-q", "build", str(spec), "-o", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    digest = json.loads((out / "index.json").read_text())["manifests"][0]["digest"]
    assert done.stdout == f"{digest}\n"
    assert sorted(m for m in modules if m.startswith(("rich", "httpx"))) == []


def test_lock_and_a_cold_build_from_an_http_repository_never_import_httpx(
    spec_file, apt_repo, tmp_path
) -> None:
    """The apt repository fetcher is on http.client: httpx (0.2-0.4 s with its client) is for
    registries. A lock, and a build with no lock and an empty cache, fetch over http."""
    spec = spec_file(["tzdata"], http=True)
    env_cache = {"ZEROCVE_CACHE_DIR": str(tmp_path / "cache")}
    done, modules = _imports("-q", "lock", str(spec), env=env_cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{spec.with_name('image.lock.json')}: amd64: 1 packages")
    assert "http.client" in modules and "zerocve.debian.http_get" in modules  # fetched
    assert sorted(m for m in modules if m.startswith(("httpx", "httpcore"))) == []

    spec.with_name("image.lock.json").unlink()
    cold = {"ZEROCVE_CACHE_DIR": str(tmp_path / "cold")}
    done, modules = _imports("-q", "build", str(spec), "-o", str(tmp_path / "out"), env=cold)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "index.json").is_file()
    assert "zerocve.debian.http_get" in modules
    assert sorted(m for m in modules if m.startswith(("httpx", "httpcore"))) == []


def test_a_cold_build_imports_no_python_debian(spec_file, tmp_path) -> None:
    """A build reads each .deb's control file and writes the dpkg status file itself:
    python-debian (a tenth of a second, with the charset detection it brings) is not imported.
    The cache is empty, so every .deb is read."""
    spec = spec_file(["tzdata"])
    cold = {"ZEROCVE_CACHE_DIR": str(tmp_path / "cold")}
    done, modules = _imports("-q", "build", str(spec), "-o", str(tmp_path / "out"), env=cold)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "index.json").is_file()
    python_debian = sorted(m for m in modules if m.split(".")[0] in ("debian", "chardet",
                                                                      "charset_normalizer"))
    assert python_debian == []
