"""Outputs never clobber inputs: where zerocve writes a path a user named.

Every command that writes a user-named output (``build -o/--tar``, the SBOMs beside an image,
``scan``/``sbom --file``, the lock file) goes through here. A path may be new, or hold a
previous output of the same kind, which is then replaced (atomically); anything else is
refused with one line (exit 2) before a byte is written: ``zerocve build app.yaml --tar
app.yaml`` must not turn the spec into a tarball, nor ``--file image.lock.json`` the lock
into a report. What counts as "the same kind" is recognised from the content, never from the
name:

==================  ==========================================================================
layout              a directory holding ``oci-layout``, or an empty directory
oci-archive         a tar file with an ``oci-layout`` member
lock                a JSON object with ``spec`` and ``archs``
SPDX / CycloneDX    JSON with ``spdxVersion`` / ``"bomFormat": "CycloneDX"``
scan JSON           JSON whose ``tool.name`` is ``zerocve``, with ``schemaVersion``
SARIF / OpenVEX     JSON with ``runs`` and a 2.1 ``version`` / an openvex.dev ``@context``
table report        text whose last line is the table's summary (``N findings...``)
diff JSON           JSON with ``before``, ``after``, ``packages`` and ``vulnerabilities``
diff table          ``--- REF1``, ``+++ REF2``, then one of the table's section titles
==================  ==========================================================================

A JSON or text file larger than ``safe_load.MAX_JSON_BYTES`` is never one of ours to replace
(and is not read); an oci-archive is recognised from its tar headers alone, whatever its size.
"""

from __future__ import annotations

import re
import stat
import tarfile
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from zerocve._atomic import same_bytes, write_atomic
from zerocve.errors import UsageError, ZerocveError
from zerocve.safe_load import MAX_JSON_BYTES, LoadError, load_json

_TABLE_SUMMARY = re.compile(r"^\d+ findings?(: .*)?$")
_DIFF_THIRD_LINE = re.compile(r"^(no difference|packages \(\d+ changed\):|vulnerabilities "
                              r"(fixed|introduced) \(\d+\):)$")


def _json(path: Path, size: int) -> Any:
    if size > MAX_JSON_BYTES:
        return None
    try:
        return load_json(path.read_bytes())
    except (OSError, LoadError):
        return None


def _json_with(test: Callable[[dict[str, Any]], bool]) -> Callable[[Path, int], bool]:
    def recognise(path: Path, size: int) -> bool:
        document = _json(path, size)
        return isinstance(document, dict) and bool(test(document))

    return recognise


def _oci_archive(path: Path, size: int) -> bool:
    try:
        with tarfile.open(path) as tar:
            return any(m.name.removeprefix("./") == "oci-layout" for m in tar)
    except (OSError, tarfile.TarError, EOFError, ValueError):
        return False


def _lines(path: Path, size: int) -> list[str]:
    if size > MAX_JSON_BYTES:
        return []
    try:
        return path.read_text().rstrip("\n").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _table_report(path: Path, size: int) -> bool:
    lines = _lines(path, size)
    return bool(lines) and _TABLE_SUMMARY.match(lines[-1]) is not None


def _diff_table(path: Path, size: int) -> bool:
    """``--- REF1``, ``+++ REF2``, then a section title: not any unified diff (a patch)."""
    lines = _lines(path, size)
    return (len(lines) >= 3 and lines[0].startswith("--- ") and lines[1].startswith("+++ ")
            and _DIFF_THIRD_LINE.match(lines[2]) is not None)


class OutputKind(Enum):
    """A kind of file zerocve writes: its name in messages, and how to recognise one."""

    OCI_ARCHIVE = ("an oci-archive", _oci_archive)
    LOCK = ("a lock file", _json_with(lambda d: {"spec", "archs"} <= d.keys()))
    SPDX = ("an SPDX document", _json_with(lambda d: "spdxVersion" in d))
    CYCLONEDX = ("a CycloneDX document", _json_with(lambda d: d.get("bomFormat") == "CycloneDX"))
    SCAN_JSON = ("a JSON report", _json_with(
        lambda d: "schemaVersion" in d and isinstance(d.get("tool"), dict)
        and d["tool"].get("name") == "zerocve"))
    SARIF = ("a SARIF report", _json_with(
        lambda d: "runs" in d and str(d.get("version", "")).startswith("2.1")))
    OPENVEX = ("an OpenVEX document", _json_with(
        lambda d: str(d.get("@context", "")).startswith("https://openvex.dev/")))
    TABLE = ("a table report", _table_report)
    DIFF_JSON = ("a JSON diff", _json_with(
        lambda d: {"before", "after", "packages", "vulnerabilities"} <= d.keys()))
    DIFF_TABLE = ("a diff table", _diff_table)

    def __init__(self, description: str, recognise: Callable[[Path, int], bool]) -> None:
        self.description = description
        self.recognise = recognise


def check_file(path: Path, kind: OutputKind) -> None:
    """``path`` may be written as ``kind``: it is new, or a previous ``kind`` output."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return  # new (a dangling symlink too: replacing the link harms nothing)
    except OSError as e:
        raise UsageError(f"{path}: cannot check the output path: {e.strerror}") from e
    if stat.S_ISREG(info.st_mode) and kind.recognise(path, info.st_size):
        return
    raise UsageError(f"{path}: exists and is not {kind.description} zerocve wrote; refusing to "
                     "replace it (name a new path, or remove it first)")


def check_layout_dir(path: Path) -> None:
    """``path`` may be (re)written as an OCI layout: new, empty, or a previous layout.
    Replacing a directory means deleting it, so this is the strictest check of all."""
    try:
        if not path.exists():
            return
        if path.is_dir() and ((path / "oci-layout").is_file() or not any(path.iterdir())):
            return
    except OSError as e:
        raise UsageError(f"{path}: cannot check the output path: {e.strerror}") from e
    raise UsageError(f"{path}: exists and is not an OCI image layout; refusing to replace it "
                     "(name a new or empty directory)")


def write_file(
    path: Path, data: bytes, kind: OutputKind, *, error: type[ZerocveError],
    what: str = "cannot write",
) -> None:
    """Check ``path`` (``check_file``), then replace it atomically with ``data``, unless it
    holds exactly ``data`` already (a no-change rebuild's SBOM): then nothing is written."""
    check_file(path, kind)
    if not same_bytes(path, data):
        write_atomic(path, data, error=error, what=what)
