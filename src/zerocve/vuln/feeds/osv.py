"""OSV records for Debian (``Debian:<N>`` ecosystems) from a zip, a directory or one file.

OSV's Debian export names the *source* package, gives ``introduced``/``fixed`` events in
dpkg order and Debian's urgency in ``ecosystem_specific``; it drops the tracker's no-dsa /
ignored / postponed notes, which is why the DB also takes the tracker JSON.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from zerocve.debian.releases import CODENAMES
from zerocve.errors import AdvisoryError
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.safe_load import LoadError, load_json
from zerocve.vuln.feeds.interface import Advisory, Affected, Feed, check_version, read_input
from zerocve.vuln.model import Cvss
from zerocve.vuln.severity import parse_vector

# Ids in ``related``/``upstream`` worth keeping: Debian's own advisories and CVEs. The rest
# (SUSE, RHSA, USN, ...) are other distributions' fixes, not aliases.
_KEEP_RELATED = re.compile(r"^(CVE|DSA|DLA|DTSA)-")
_CVSS_TYPES = {"CVSS_V2", "CVSS_V3", "CVSS_V4"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Event(_Model):
    introduced: str | None = None
    fixed: str | None = None


# Sequences are tuples with () defaults: pydantic deep-copies a mutable default ([]) for
# every record it validates, some 170,000 copies in the shared export.
class _Range(_Model):
    type: str
    events: tuple[_Event, ...]


class _Package(_Model):
    ecosystem: str
    name: str


class _Severity(_Model):
    type: str
    score: str


class _EcosystemSpecific(_Model):
    urgency: str = ""


class _Affected(_Model):
    package: _Package
    ranges: tuple[_Range, ...] = ()
    severity: tuple[_Severity, ...] = ()
    ecosystem_specific: _EcosystemSpecific | None = None


class _Record(_Model):
    id: str
    summary: str = ""
    details: str = ""
    withdrawn: str | None = None
    aliases: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    severity: tuple[_Severity, ...] = ()
    affected: tuple[_Affected, ...] = ()


def _release(ecosystem: str) -> str | None:
    """ "Debian:12" → "bookworm"; an unknown number stays a number; non-Debian → None."""
    name, _, number = ecosystem.partition(":")
    if name != "Debian" or not number:
        return None
    return CODENAMES.get(number, number)


def _intervals(ranges: tuple[_Range, ...]) -> Iterator[tuple[str | None, str | None]]:
    """(introduced, fixed) pairs from ECOSYSTEM ranges; fixed None = not fixed yet."""
    for rng in ranges:
        if rng.type != "ECOSYSTEM":
            continue
        start: str | None = None
        open_interval = False
        for event in rng.events:
            if event.introduced is not None:
                start, open_interval = event.introduced, True
            elif event.fixed is not None and open_interval:
                yield start, event.fixed
                open_interval = False
        if open_interval:
            yield start, None


def _record_name(data: bytes | str) -> str:
    """ "record ID: " for the error line of a record that parses as JSON but breaks the
    schema (the id is what a user searches for); empty otherwise."""
    try:
        record_id = load_json(data).get("id")
    except (LoadError, AttributeError):
        return ""
    return f"record {record_id}: " if isinstance(record_id, str) else ""


def parse_record(data: bytes | str, where: str) -> Advisory | None:
    """One OSV JSON document → an Advisory (None when withdrawn or not about Debian).
    ``where`` names the file (and member) for the error line."""
    try:
        record = _Record.model_validate_json(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        what = f"{loc}: {err['msg']}" if loc else err["msg"]
        raise AdvisoryError(
            f"{where}: {_record_name(data)}not a valid OSV record: {what}"
        ) from None
    if record.withdrawn:
        return None
    affected: list[Affected] = []
    vectors: dict[str, Cvss] = {}
    severities = list(record.severity)
    for entry in record.affected:
        release = _release(entry.package.ecosystem)
        if release is None:
            continue
        severities.extend(entry.severity)
        urgency = entry.ecosystem_specific.urgency if entry.ecosystem_specific else ""
        for introduced, fixed in _intervals(entry.ranges):
            for version in (introduced, fixed):
                check_version(version, f"{where}: record {record.id}: {entry.package.name}")
            affected.append(
                Affected(
                    release=release,
                    package=entry.package.name,
                    introduced=None if introduced in (None, "0") else introduced,
                    fixed=fixed,
                    urgency=urgency,
                )
            )
    if not affected:
        return None
    for sev in severities:
        if sev.type in _CVSS_TYPES and sev.score not in vectors:
            try:
                vectors[sev.score] = parse_vector(sev.score)
            except ValueError as e:
                raise AdvisoryError(f"{where}: record {record.id}: severity: {e}") from None
    related = [i for i in (*record.related, *record.upstream) if _KEEP_RELATED.match(i)]
    aliases = tuple(dict.fromkeys(i for i in (*record.aliases, *related) if i != record.id))
    return Advisory(
        id=record.id,
        description=record.details or record.summary,
        cvss=tuple(vectors.values()),
        aliases=aliases,
        affected=tuple(affected),
    )


class OsvFeed(Feed):
    name = "osv"

    def records(self, source: Path, reporter: Reporter = NULL_REPORTER) -> Iterator[Advisory]:
        if source.is_dir():
            yield from self._directory(source, reporter)
        elif zipfile.is_zipfile(source):
            yield from self._zip(source, reporter)
        elif source.suffix == ".json":
            advisory = parse_record(read_input(source), str(source))
            if advisory:
                yield advisory
        else:
            raise AdvisoryError(
                f"{source}: not an OSV zip, directory or .json file (truncated download?)"
            )

    def _directory(self, root: Path, reporter: Reporter) -> Iterator[Advisory]:
        files = sorted(root.rglob("*.json"))
        try:
            total = sum(p.stat().st_size for p in files)
        except OSError as e:  # a dangling symlink, a file removed meanwhile
            raise AdvisoryError(f"{e.filename}: cannot read: {e.strerror}") from e
        # Progress in bytes, like the download and the tracker (the CLI shows byte counts).
        with reporter.task(f"OSV {root.name}", total=total) as task:
            for path in files:
                data = read_input(path)
                advisory = parse_record(data, str(path))
                if advisory:
                    yield advisory
                task.advance(len(data))

    def _zip(self, path: Path, reporter: Reporter) -> Iterator[Advisory]:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise AdvisoryError(f"{path}: not a readable zip: {e}") from e
        with archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".json")]
            total = sum(m.compress_size for m in members)
            with reporter.task(f"OSV {path.name}", total=total) as task:
                for member in members:
                    where = f"{path}: {member.filename}"
                    try:
                        data = archive.read(member)
                    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
                        raise AdvisoryError(f"{where}: corrupt zip member: {e}") from e
                    advisory = parse_record(data, where)
                    if advisory:
                        yield advisory
                    task.advance(member.compress_size)
