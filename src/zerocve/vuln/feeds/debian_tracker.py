"""The Debian Security Tracker's JSON export (``/tracker/data/json``).

Shape: ``{source package: {issue id: {"description", "scope", "debianbug",
"releases": {codename: {"status", "fixed_version", "urgency", "nodsa", "nodsa_reason",
"repositories": {suite: version}}}}}}``. Status is "resolved" (``fixed_version`` given;
"0" = that release was never affected), "open" or "undetermined". The tracker is the only
feed that keeps no-dsa / ignored / postponed and the archive's versions per suite.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.vuln.feeds.interface import Advisory, Affected, Feed


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


_DOCUMENT = TypeAdapter(dict[str, dict[str, _Issue]])
_STATUSES = {"resolved", "open", "undetermined"}


def parse(data: bytes, where: str) -> Iterator[Advisory]:
    """Advisories, one per (source package, issue), from the tracker's JSON bytes."""
    try:
        document = _DOCUMENT.validate_json(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = " → ".join(str(p) for p in err["loc"])
        what = f"{loc}: {err['msg']}" if loc else err["msg"]
        raise AdvisoryError(f"{where}: not valid Debian tracker JSON: {what}") from None
    for package, issues in document.items():
        for issue_id, issue in issues.items():
            affected = []
            for codename, rel in issue.releases.items():
                if rel.status not in _STATUSES:
                    raise AdvisoryError(
                        f"{where}: {package} → {issue_id} → releases → {codename}: "
                        f"unknown status {rel.status!r}"
                    )
                if rel.status == "resolved" and not rel.fixed_version:
                    continue  # resolved without a version establishes no affected range
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
            yield Advisory(
                id=issue_id, description=issue.description or "", affected=tuple(affected)
            )


class DebianTrackerFeed(Feed):
    name = "debian-tracker"

    def records(self, source: Path, reporter: Reporter = NULL_REPORTER) -> Iterator[Advisory]:
        if source.is_dir():
            raise AdvisoryError(
                f"{source}: the Debian tracker feed is a JSON file, not a directory"
            )
        try:
            data = source.read_bytes()
        except OSError as e:
            raise AdvisoryError(f"{source}: cannot read: {e.strerror}") from e
        if data[:2] == b"\x1f\x8b":  # a saved copy of the gzip-encoded response
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise AdvisoryError(f"{source}: corrupt gzip: {e}") from e
        advisories = list(parse(data, str(source)))
        with reporter.task(f"Debian tracker {source.name}", total=len(advisories)) as task:
            for advisory in advisories:
                yield advisory
                task.advance()
