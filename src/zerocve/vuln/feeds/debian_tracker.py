"""The Debian Security Tracker's JSON export (``/tracker/data/json``).

Shape: ``{source package: {issue id: {"description", "scope", "debianbug",
"releases": {codename: {"status", "fixed_version", "urgency", "nodsa", "nodsa_reason",
"repositories": {suite: version}}}}}}``. Status is "resolved" (``fixed_version`` given;
"0" = that release was never affected), "open" or "undetermined". The tracker is the only
feed that keeps no-dsa / ignored / postponed and the archive's versions per suite.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.safe_load import MAX_DEPTH, LoadError, check_depth
from zerocve.vuln.feeds.interface import Advisory, Affected, Feed, check_version, read_input


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Release(_Model):
    status: str
    fixed_version: str | None = None
    urgency: str | None = None
    nodsa: str | None = None
    nodsa_reason: str | None = None
    repositories: dict[str, str] = {}


class _Issue(_Model):
    description: str | None = None
    releases: dict[str, _Release] = {}


_PACKAGE = TypeAdapter(dict[str, _Issue])
_STATUSES = {"resolved", "open", "undetermined"}
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _invalid(where: str, what: str) -> AdvisoryError:
    return AdvisoryError(f"{where}: not valid Debian tracker JSON: {what}")


def _members(text: str, where: str) -> Iterator[tuple[str, object, int]]:
    """(source package, its raw value, end offset) one at a time: the export is large, and
    holding only one package's issues as Python objects keeps memory flat."""

    def space(at: int) -> int:
        match = _SPACE.match(text, at)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    pos = space(0)
    if text[pos : pos + 1] != "{":
        raise _invalid(where, "expected an object of source packages")
    pos = space(pos + 1)
    if text[pos : pos + 1] == "}":
        return
    while True:
        try:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = space(pos)
            if text[pos : pos + 1] != ":" or not isinstance(key, str):
                raise _invalid(where, f"expected a package name and ':' at offset {pos}")
            value, pos = _DECODER.raw_decode(text, space(pos + 1))
            check_depth(value)
        except json.JSONDecodeError as e:
            msg = f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
            raise _invalid(where, msg) from None
        except RecursionError:
            msg = f"nested more than {MAX_DEPTH} levels deep near offset {pos}"
            raise _invalid(where, msg) from None
        except LoadError as e:
            raise _invalid(where, f"{key}: {e}") from None
        yield key, value, pos
        pos = space(pos)
        if text[pos : pos + 1] == ",":
            pos = space(pos + 1)
        elif text[pos : pos + 1] == "}":
            if space(pos + 1) != len(text):
                raise _invalid(where, f"trailing data after the object at offset {pos + 1}")
            return
        else:
            raise _invalid(where, f"expected ',' or '}}' at offset {pos}")


def _advisories(package: str, value: object, where: str) -> Iterator[Advisory]:
    try:
        issues = _PACKAGE.validate_python(value)
    except ValidationError as e:
        err = e.errors()[0]
        loc = " → ".join(str(p) for p in (package, *err["loc"]))
        raise _invalid(where, f"{loc}: {err['msg']}") from None
    for issue_id, issue in issues.items():
        affected = []
        for codename, rel in issue.releases.items():
            if rel.status not in _STATUSES:
                raise _invalid(
                    where,
                    f"{package} → {issue_id} → releases → {codename}: "
                    f"unknown status {rel.status!r}",
                )
            if rel.status == "resolved" and not rel.fixed_version:
                continue  # resolved without a version establishes no affected range
            check_version(
                rel.fixed_version,
                f"{where}: {package} → {issue_id} → releases → {codename} → fixed_version",
            )
            affected.append(
                Affected(
                    release=codename,
                    package=package,
                    fixed=rel.fixed_version if rel.status == "resolved" else None,
                    status=rel.status,
                    urgency=rel.urgency or "",
                    nodsa=rel.nodsa or "",
                    nodsa_reason=rel.nodsa_reason or "",
                    repositories=tuple(sorted(rel.repositories.items())),
                )
            )
        yield Advisory(id=issue_id, description=issue.description or "", affected=tuple(affected))


def parse(text: str, where: str, reporter: Reporter = NULL_REPORTER) -> Iterator[Advisory]:
    """Advisories, one per (source package, issue), from the tracker's JSON text."""
    with reporter.task(f"Debian tracker {Path(where).name}", total=len(text)) as task:
        done = 0
        for package, value, end in _members(text, where):
            yield from _advisories(package, value, where)
            task.advance(end - done)
            done = end
        task.advance(len(text) - done)  # the closing brace


class DebianTrackerFeed(Feed):
    name = "debian-tracker"

    def records(self, source: Path, reporter: Reporter = NULL_REPORTER) -> Iterator[Advisory]:
        if source.is_dir():
            raise AdvisoryError(
                f"{source}: the Debian tracker feed is a JSON file, not a directory"
            )
        data = read_input(source)
        if data[:2] == b"\x1f\x8b":  # a saved copy of the gzip-encoded response
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise AdvisoryError(f"{source}: corrupt gzip: {e}") from e
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _invalid(str(source), f"not UTF-8 at offset {e.start}") from None
        del data  # the text is all that is needed from here on
        yield from parse(text, str(source), reporter)
