"""What changed between two images: packages (added, removed, version moved) and findings
(gone, new). Pure: it compares two scan results, however they were obtained (``zerocve
diff`` scans two targets; a promotion's changelog compares the published and the staged
image)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from zerocve.debian.model import PackageId
from zerocve.debian.version import compare
from zerocve.vuln.model import Finding


@dataclass(frozen=True)
class PackageChange:
    """One package (name and architecture) whose version differs; None where it is absent."""

    name: str
    architecture: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "upgraded" if compare(self.after, self.before) > 0 else "downgraded"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "architecture": self.architecture, "before": self.before,
                "after": self.after, "change": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PackageChange:
        return cls(data["name"], data["architecture"], data["before"], data["after"])


@dataclass(frozen=True)
class FindingChange:
    """A vulnerability in a package, present on one side only."""

    vulnerability: str
    package: str
    version: str
    state: str
    severity: str
    fixed_version: str | None

    @classmethod
    def of(cls, finding: Finding) -> FindingChange:
        return cls(finding.vulnerability, finding.package.name, finding.package.version,
                   finding.state.value, finding.severity.value, finding.fixed_version)

    def to_json(self) -> dict[str, object]:
        return {"vulnerability": self.vulnerability, "package": self.package,
                "version": self.version, "state": self.state, "severity": self.severity,
                "fixed_version": self.fixed_version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FindingChange:
        return cls(data["vulnerability"], data["package"], data["version"], data["state"],
                   data["severity"], data["fixed_version"])


@dataclass(frozen=True)
class ImageDiff:
    before: str
    after: str
    packages: tuple[PackageChange, ...]
    fixed: tuple[FindingChange, ...]  # findings of ``before`` that ``after`` no longer has
    introduced: tuple[FindingChange, ...]  # findings of ``after`` that ``before`` did not have

    @property
    def empty(self) -> bool:
        return not (self.packages or self.fixed or self.introduced)

    def to_json(self) -> dict[str, object]:
        return {
            "before": self.before,
            "after": self.after,
            "packages": [p.to_json() for p in self.packages],
            "vulnerabilities": {
                "fixed": [f.to_json() for f in self.fixed],
                "introduced": [f.to_json() for f in self.introduced],
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageDiff:
        """The diff ``to_json`` wrote (e.g. kept in the store between two steps)."""
        found = data["vulnerabilities"]
        return cls(
            data["before"], data["after"],
            tuple(PackageChange.from_json(p) for p in data["packages"]),
            tuple(FindingChange.from_json(f) for f in found["fixed"]),
            tuple(FindingChange.from_json(f) for f in found["introduced"]),
        )


def diff_packages(
    before: Iterable[PackageId], after: Iterable[PackageId]
) -> tuple[PackageChange, ...]:
    """Packages whose presence or version differs, by (name, architecture), sorted."""
    old = {(p.name, p.architecture): p.version for p in before}
    new = {(p.name, p.architecture): p.version for p in after}
    return tuple(
        PackageChange(name, arch, old.get((name, arch)), new.get((name, arch)))
        for name, arch in sorted(old.keys() | new.keys())
        if old.get((name, arch)) != new.get((name, arch))
    )


def diff_findings(
    before: Iterable[Finding], after: Iterable[Finding]
) -> tuple[tuple[FindingChange, ...], tuple[FindingChange, ...]]:
    """(gone, new): findings keyed by vulnerability and package name, present on one side."""

    def keyed(findings: Iterable[Finding]) -> dict[tuple[str, str], Finding]:
        return {(f.vulnerability, f.package.name): f for f in findings}

    old, new = keyed(before), keyed(after)
    gone = tuple(FindingChange.of(old[k]) for k in sorted(old.keys() - new.keys()))
    added = tuple(FindingChange.of(new[k]) for k in sorted(new.keys() - old.keys()))
    return gone, added


def diff_images(
    before: str,
    after: str,
    packages: tuple[Iterable[PackageId], Iterable[PackageId]],
    findings: tuple[Iterable[Finding], Iterable[Finding]] | None,
) -> ImageDiff:
    """The difference between image ``before`` and image ``after`` (their names, for display);
    ``findings`` None compares packages only."""
    fixed, introduced = diff_findings(*findings) if findings is not None else ((), ())
    return ImageDiff(before, after, diff_packages(*packages), fixed, introduced)


def render_table(diff: ImageDiff) -> str:
    """Plain text, one line per change."""
    lines = [f"--- {diff.before}", f"+++ {diff.after}"]
    if diff.empty:
        return "\n".join([*lines, "no difference"]) + "\n"
    if diff.packages:
        lines.append(f"packages ({len(diff.packages)} changed):")
        width = max(len(p.name) + len(p.architecture) + 1 for p in diff.packages)
        for p in diff.packages:
            name = f"{p.name}:{p.architecture}"
            lines.append(
                f"  {p.kind:<10} {name:<{width}}  {p.before or '-'} → {p.after or '-'}"
            )
    for title, changes in (("fixed", diff.fixed), ("introduced", diff.introduced)):
        if changes:
            lines.append(f"vulnerabilities {title} ({len(changes)}):")
            for c in changes:
                fix = f", fixed in {c.fixed_version}" if c.fixed_version else ""
                lines.append(
                    f"  {c.vulnerability:<16} {c.package} {c.version} ({c.state}, "
                    f"{c.severity}{fix})"
                )
    return "\n".join(lines) + "\n"


def render_json(diff: ImageDiff) -> str:
    return json.dumps(diff.to_json(), indent=2) + "\n"
