"""A crash is not a finding: exit 1 means "findings over the gate", so nothing else may
exit 1. Hostile inputs give one error line and exit 2 or 3; a bug gives exit 4 and a hint."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

import pytest
from hostile_kit import one_error_line, run_zerocve

from zerocve import cli
from zerocve.inventory.tree import MAX_FILE
from zerocve.vuln import db

DEEP = "[" * 200_000 + "]" * 200_000


def test_deeply_nested_sbom(tmp_path: Path, tracker_db: Path) -> None:
    (tmp_path / "bom.json").write_text(DEEP)
    done = run_zerocve("scan", f"sbom:{tmp_path / 'bom.json'}", "--db", str(tracker_db))
    assert done.returncode == 3
    one_error_line(done)


def test_deeply_nested_vex(tmp_path: Path, tracker_db: Path, rootfs) -> None:
    (tmp_path / "triage.vex.json").write_text('{"statements": ' + DEEP + "}")
    root = rootfs("")
    done = run_zerocve(
        "scan", f"dir:{root}", "--vex", str(tmp_path / "triage.vex.json"), "--db", str(tracker_db)
    )
    assert done.returncode == 3
    assert "triage.vex.json" in one_error_line(done) or "nested" in done.stderr


def test_memory_error_is_an_operational_failure(tmp_path: Path, tracker_db: Path,
                                                rootfs) -> None:
    # A status file larger than the process may allocate: MemoryError used to exit 1.
    limit = 200 << 20

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    root = rootfs("Package: aa\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"
                  "Description: x\n " + "y" * (MAX_FILE - 100) + "\n")  # just readable
    done = run_zerocve("scan", f"dir:{root}", "--db", str(tracker_db), preexec_fn=cap)
    assert done.returncode == 3
    assert "out of memory" in one_error_line(done)


def test_relative_db_path(tmp_path: Path, tracker_db: Path, rootfs) -> None:
    # `--db t.db` used to crash in Path.as_uri (exit 1 with a traceback).
    rootfs("Package: aa\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n")
    (tmp_path / "t.db").write_bytes(tracker_db.read_bytes())
    done = run_zerocve("scan", "dir:rootfs", "--db", "t.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def _main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["zerocve", *argv])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert isinstance(exited.value.code, int)
    return exited.value.code


def _broken(path: object = None) -> db.DbStatus:
    raise KeyError("bug")


def test_unexpected_exception_is_exit_4_with_hint(monkeypatch, capsys) -> None:
    monkeypatch.setattr(db, "status", _broken)
    assert _main(monkeypatch, "db", "status") == cli.EXIT_INTERNAL == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "internal error (KeyError: 'bug')" in err and "rerun with -v" in err
    assert len(err.strip().splitlines()) == 1


def test_verbose_shows_the_traceback_and_keeps_the_code(monkeypatch, capsys) -> None:
    monkeypatch.setattr(db, "status", _broken)
    assert _main(monkeypatch, "-v", "db", "status") == 4
    assert "Traceback" in capsys.readouterr().err


def test_newline_in_a_message_stays_one_line(tmp_path: Path, tracker_db: Path) -> None:
    bad = tmp_path / "evil\nerror: injected"
    done = run_zerocve("scan", f"sbom:{bad}", "--db", str(tracker_db))
    assert done.returncode in (2, 3)
    assert "evil\\nerror: injected" in one_error_line(done)


def test_help_documents_every_exit_code() -> None:
    done = run_zerocve("--help")
    for code in ("0 ", "1 ", "2 ", "3 ", "4 "):
        assert f"\n {code} " in done.stdout or f"│ {code} " in done.stdout, done.stdout
    assert "internal error" in done.stdout


SPEC = """\
contents:
  repositories:
    - uri: file:///nonexistent
      suites: [bookworm]
      keyring: /nonexistent.gpg
  packages: [base-files]
"""


@pytest.mark.parametrize(
    ("extra", "environment", "code", "said"),
    [
        ("cmd: \"echo 'unbalanced\"\n", {}, 3, "cmd"),
        ("entrypoint:\n  command: \"sh -c 'x\"\n", {}, 3, "entrypoint"),
        ("accounts:\n  users: [{username: big, uid: 100000000000000000000}]\n", {}, 3, "uid"),
        ("", {"SOURCE_DATE_EPOCH": "99999999999999999999"}, 2, "SOURCE_DATE_EPOCH"),
    ],
)
def test_hostile_spec_values_are_not_findings(
    tmp_path: Path, extra: str, environment: dict[str, str], code: int, said: str
) -> None:
    (tmp_path / "image.yaml").write_text(SPEC + extra)
    done = run_zerocve("lock", str(tmp_path / "image.yaml"),
                       env={**os.environ, **environment})
    assert done.returncode == code, done.stderr
    assert said in one_error_line(done)
