"""A promotion's changelog and its time to remediate. Pure.

The package and vulnerability differences come from ``zerocve.fleet.diff`` (the comparison
``zerocve diff`` prints), applied to the scans of the published and the promoted image. Time
to remediate is measured per vulnerability fixed: from the moment the fixing source version
was first seen in a watched repository to the moment the tag moved; beside it, from the
moment the advisory data first named that fix. A first-seen time recorded when watching
began (``Seen.baseline``) is only a lower bound: the version was already there, and the
changelog says so rather than claim a remediation time it cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from zerocve.fleet.diff import ImageDiff
from zerocve.lock import Lock


@dataclass(frozen=True)
class Seen:
    at: datetime
    baseline: bool = False  # already present when watching began: ``at`` is a lower bound


@dataclass(frozen=True)
class Remediation:
    vulnerability: str
    source: str
    version: str  # the source version the image has now
    version_seen: Seen | None  # when that version first appeared in a watched repository
    advisory_seen: Seen | None  # when the advisory data first said it fixes the vulnerability
    promoted_at: datetime

    @property
    def seconds(self) -> float | None:
        """Tag moved − fixing version first seen; None when unknown or only a lower bound."""
        seen = self.version_seen
        if seen is None or seen.baseline:
            return None
        return (self.promoted_at - seen.at).total_seconds()

    @property
    def seconds_since_advisory(self) -> float | None:
        seen = self.advisory_seen
        if seen is None or seen.baseline:
            return None
        return (self.promoted_at - seen.at).total_seconds()

    def to_json(self) -> dict[str, object]:
        def seen(value: Seen | None) -> str | None:
            return value.at.isoformat() if value else None

        return {
            "vulnerability": self.vulnerability, "source": self.source, "version": self.version,
            "version_first_seen": seen(self.version_seen),
            "advisory_first_seen": seen(self.advisory_seen),
            "baseline": bool(self.version_seen and self.version_seen.baseline),
            "seconds": self.seconds, "seconds_since_advisory": self.seconds_since_advisory,
        }  # fmt: skip


@dataclass(frozen=True)
class Changelog:
    image: str
    digest_old: str | None
    digest_new: str
    promoted_at: datetime
    diff: ImageDiff
    bytes_pushed: int
    tests: tuple[Mapping[str, object], ...]  # each test's command, exit code, duration, output
    remediations: tuple[Remediation, ...]
    spec_change: str | None = None  # the plan's, when the spec as built changed

    @property
    def time_to_remediate(self) -> float | None:
        """The slowest known remediation of this promotion, in seconds."""
        known = [r.seconds for r in self.remediations if r.seconds is not None]
        return max(known) if known else None

    def summary(self) -> str:
        """One line: ``libssl3 3.0.11-1 → 3.0.13-1; fixes CVE-2024-0727; 1.2 MB pushed;
        remediated in 4m 10s``, or ``the spec changed: entrypoint; …``."""
        packages = (
            "; ".join(f"{p.name} {p.before or '(new)'} → {p.after or '(removed)'}"
                      for p in self.diff.packages[:3])  # fmt: skip
            + (f" and {len(self.diff.packages) - 3} more" if len(self.diff.packages) > 3 else "")
        )
        parts = [p for p in (packages, self.spec_change) if p] or ["no package change"]
        fixed = sorted({f.vulnerability for f in self.diff.fixed})
        if fixed:
            parts.append("fixes " + ", ".join(fixed[:5]) + (" …" if len(fixed) > 5 else ""))
        introduced = sorted({f.vulnerability for f in self.diff.introduced})
        if introduced:
            parts.append("introduces " + ", ".join(introduced))
        parts.append(f"{self.bytes_pushed / 1e6:.1f} MB pushed")
        if self.time_to_remediate is not None:
            parts.append(f"remediated in {duration(self.time_to_remediate)}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image, "digest_old": self.digest_old, "digest_new": self.digest_new,
            "promoted_at": self.promoted_at.isoformat(), "bytes_pushed": self.bytes_pushed,
            **{k: v for k, v in self.diff.to_json().items() if k not in ("before", "after")},
            "tests": [dict(t) for t in self.tests],
            "remediations": [r.to_json() for r in self.remediations],
            "time_to_remediate": self.time_to_remediate, "spec_change": self.spec_change,
            "summary": self.summary(),
        }  # fmt: skip


def duration(seconds: float) -> str:
    """``2d 3h``, ``4m 10s``, ``12s``."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def fixing_versions(diff: ImageDiff, new_lock: Lock) -> list[tuple[str, str, str]]:
    """(vulnerability, source, source version now in the image) per vulnerability fixed:
    what the first-seen times are looked up by."""
    sources = {p.name: (p.source, p.source_version)
               for a in new_lock.archs.values() for p in a.packages}  # fmt: skip
    result = set()
    for finding in diff.fixed:
        if finding.package in sources:  # gone with its package: no version fixed it
            source, version = sources[finding.package]
            result.add((finding.vulnerability, source, version))
    return sorted(result)


def make_changelog(
    image: str,
    *,
    digest_old: str | None,
    digest_new: str,
    promoted_at: datetime,
    diff: ImageDiff,
    new_lock: Lock,
    bytes_pushed: int,
    tests: Sequence[Mapping[str, object]] = (),
    version_seen: Mapping[tuple[str, str], Seen] | None = None,
    advisory_seen: Mapping[tuple[str, str], Seen] | None = None,
    spec_change: str | None = None,
) -> Changelog:
    """The changelog of promoting ``digest_new`` over ``digest_old``. ``version_seen`` maps
    (source, source version) and ``advisory_seen`` (source, vulnerability) to first-seen
    times (see ``fixing_versions`` for the keys asked about)."""
    versions, advisories = version_seen or {}, advisory_seen or {}
    remediations = tuple(
        Remediation(vulnerability, source, version, versions.get((source, version)),
                    advisories.get((source, vulnerability)), promoted_at)  # fmt: skip
        for vulnerability, source, version in fixing_versions(diff, new_lock)
    )
    return Changelog(image, digest_old, digest_new, promoted_at, diff, bytes_pushed,
                     tuple(tests), remediations, spec_change)  # fmt: skip
