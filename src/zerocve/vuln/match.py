"""Match an inventory against the advisory DB: one finding per (vulnerability, package).

Packages are matched by *source* package and source version (a binNMU ``1.2-3+b1`` of
source ``1.2-3`` is judged as ``1.2-3``), in dpkg order. When the tracker and OSV both
know a (vulnerability, source package) pair they are merged: the tracker decides the state
(it alone keeps no-dsa / ignored / postponed and what the archive holds), OSV adds CVSS
vectors and aliases. ``assess`` is the pure decision; ``match`` only fetches rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from zerocve.debian.model import InstalledPackage
from zerocve.debian.releases import CODENAMES
from zerocve.debian.version import compare, sort_key
from zerocve.errors import InventoryError
from zerocve.inventory.model import Distro, Inventory
from zerocve.vuln.db import AffectedRow, VulnDetails
from zerocve.vuln.feeds.interface import Affected
from zerocve.vuln.model import Finding, State
from zerocve.vuln.severity import SeveritySource, choose

TRACKER = "debian-tracker"
_BATCH = 200  # source packages whose advisory rows are read and judged together


class AdvisorySource(Protocol):
    """What the matcher reads; ``AdvisoryDB`` is one, tests may pass rows directly."""

    def affected(self, releases: Sequence[str], packages: Collection[str]) -> list[AffectedRow]: ...

    def details(self, ids: Collection[str]) -> dict[str, VulnDetails]: ...

    def has_release(self, releases: Sequence[str]) -> bool: ...


@dataclass(frozen=True)
class Verdict:
    """How one installed source version stands against one vulnerability."""

    state: State
    fixed_version: str | None
    urgency: str
    note: str
    sources: tuple[str, ...]


def _fix_state(fixed: str, available: str | None, repositories: Sequence[tuple[str, str]]) -> State:
    """FIXED when the fixed version can be installed from the image's repositories, as far
    as anyone knows: the caller's ``available`` version first, else the tracker's view of
    the release's suites; with neither, assume it can."""
    if available is not None:
        return State.FIXED if compare(available, fixed) >= 0 else State.FIX_UNAVAILABLE
    if repositories:
        best = max((v for _, v in repositories), key=sort_key)
        return State.FIXED if compare(best, fixed) >= 0 else State.FIX_UNAVAILABLE
    return State.FIXED


def _unfixed_state(row: Affected) -> tuple[State, str]:
    """The state of an issue with no fix in the release, and the note that explains it."""
    urgency = row.urgency.rstrip("*").strip().lower()
    if urgency == "end-of-life":
        return State.END_OF_LIFE, "package no longer has security support in this release"
    if urgency == "unimportant":
        return State.UNIMPORTANT, row.nodsa
    if row.nodsa_reason == "ignored":
        return State.IGNORED, row.nodsa
    if row.nodsa_reason == "postponed":
        return State.POSTPONED, row.nodsa
    if row.nodsa:
        return State.NO_DSA, row.nodsa
    if row.status == "undetermined":
        return State.OPEN, "undetermined: Debian has not yet triaged this release"
    return State.OPEN, ""


def _contains(row: Affected, version: str) -> bool:
    if row.introduced is not None and compare(version, row.introduced) < 0:
        return False
    return row.fixed is None or compare(version, row.fixed) < 0


def assess(
    version: str, rows: Sequence[AffectedRow], available: str | None = None
) -> Verdict | None:
    """The verdict for source ``version`` given every row about one (vulnerability, source
    package, release); None when that version is not affected."""
    # Most (vulnerability, package) pairs of a scan were fixed at or before the installed
    # version in every row (or never affected: "0"): then neither the tracker's entry nor any
    # range below can hold it. Decided here first, without the work below.
    for row in rows:
        fixed = row.affected.fixed
        if fixed is None or compare(version, fixed) < 0:
            break
    else:
        return None
    feeds = tuple(sorted({r.feed for r in rows}, key=lambda f: f != TRACKER))
    tracker = [r.affected for r in rows if r.feed == TRACKER]
    if tracker:
        # One tracker entry per (issue, package, release); the tracker is authoritative.
        entry = tracker[0]
        if entry.fixed == "0":
            return None  # never affected in this release
        if entry.fixed is not None:
            if compare(version, entry.fixed) >= 0:
                return None
            state = _fix_state(entry.fixed, available, entry.repositories)
            return Verdict(state, entry.fixed, entry.urgency, entry.nodsa, feeds)
        state, note = _unfixed_state(entry)
        return Verdict(state, None, entry.urgency, note, feeds)
    hits = [r.affected for r in rows if _contains(r.affected, version)]
    if not hits:
        return None
    unfixed = [h for h in hits if h.fixed is None]
    if unfixed:
        state, note = _unfixed_state(unfixed[0])
        return Verdict(state, None, unfixed[0].urgency, note, feeds)
    # Ranges from two records overlapping (a CVE and a DSA): only the last fix gets out of all.
    entry = max(hits, key=lambda h: sort_key(h.fixed or ""))
    assert entry.fixed is not None
    return Verdict(_fix_state(entry.fixed, available, ()), entry.fixed, entry.urgency, "", feeds)


def releases_of(distro: Distro | None, target: str) -> tuple[str, ...]:
    """The release keys rows may be stored under: the codename, and the number when the
    number has no known codename. InventoryError when the target is not Debian."""
    if distro is None or not (distro.codename or distro.version_id):
        raise InventoryError(
            f"{target}: no Debian release found (etc/os-release, etc/debian_version); "
            "cannot match advisories"
        )
    if distro.id != "debian":
        raise InventoryError(
            f"{target}: distribution {distro.id!r} is not Debian; zerocve's "
            "advisory DB covers Debian only"
        )
    number = distro.version_id.split(".")[0]
    keys = [distro.codename, CODENAMES.get(number, number)]
    return tuple(dict.fromkeys(k for k in keys if k))


def match(
    inventory: Inventory,
    db: AdvisorySource,
    *,
    severity_source: SeveritySource = "debian",
    available_versions: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Findings for every installed package, sorted by package then vulnerability.
    ``available_versions`` maps a source package to the newest version the image's
    repositories offer (when known): a fix newer than that is ``fix-unavailable``."""
    releases = releases_of(inventory.distro, inventory.target)
    if not db.has_release(releases):
        # An os-release naming a release the feeds do not cover (a typo, a future or a forged
        # VERSION_ID) would otherwise scan as "0 findings".
        raise InventoryError(
            f"{inventory.target}: the advisory DB has no data for Debian "
            f"{' / '.join(releases)}; update it with a feed that covers this release, or name "
            "the release with --distro debian:NUMBER|CODENAME"
        )
    # source package -> installed source version -> its binary packages: each version is
    # judged once per vulnerability, whatever the number of binaries built from it.
    by_source: dict[str, dict[str, list[InstalledPackage]]] = defaultdict(dict)
    for pkg in inventory.packages:
        version = pkg.source_version or pkg.version
        by_source[pkg.source or pkg.name].setdefault(version, []).append(pkg)
    hits: list[tuple[str, InstalledPackage, Verdict]] = []
    available = available_versions or {}
    names = sorted(by_source)
    # A few hundred source packages at a time: only their rows are held, whatever the number
    # of packages installed (a package's rows all come with it).
    for start in range(0, len(names), _BATCH):
        grouped: dict[tuple[str, str], list[AffectedRow]] = defaultdict(list)
        for row in db.affected(releases, names[start : start + _BATCH]):
            grouped[(row.affected.package, row.vuln)].append(row)
        for (source, vuln), rows in grouped.items():
            for version, packages in by_source[source].items():
                try:
                    verdict = assess(version, rows, available.get(source))
                except ValueError as e:
                    raise InventoryError(
                        f"{inventory.target}: package {packages[0].name}: {e}") from None
                if verdict is not None:
                    hits.extend((vuln, pkg, verdict) for pkg in packages)

    details = db.details({vuln for vuln, _, _ in hits})
    findings = []
    for vuln, pkg, verdict in hits:
        info = details[vuln]
        findings.append(
            Finding(
                vulnerability=vuln,
                package=pkg,
                state=verdict.state,
                severity=choose(verdict.urgency, info.cvss, severity_source),
                fixed_version=verdict.fixed_version,
                urgency=verdict.urgency or None,
                cvss=info.cvss,
                aliases=info.aliases,
                description=info.description,
                note=verdict.note,
                sources=verdict.sources,
            )
        )
    findings.sort(key=lambda f: (f.package.name, f.package.architecture, f.vulnerability))
    return findings


__all__ = ["AdvisorySource", "Verdict", "assess", "match", "releases_of"]
