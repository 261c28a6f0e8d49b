"""The zero-CVE gate: which findings fail a scan, a build or a publish. Pure.

``--fail-on`` picks states (suppressed findings never count):

    fixed  only ``fixed``: Debian ships a fixed version in the repositories the image is built
           from, so rebuilding would remove the finding. The publish default.
    open   ``fixed``, ``fix-unavailable`` (fixed upstream, not yet in those repositories) and
           ``open`` (no fix yet): everything Debian still means to fix.
    any    every reported finding, including ``no-dsa``, ``postponed``, ``ignored``,
           ``end-of-life`` and ``unimportant``.

``--min-severity`` (negligible, low, medium, high, critical) then keeps findings at or above
it. A finding whose severity is not known yet (Debian's "not yet assigned", no CVSS) is kept
whatever the threshold: the newest CVEs are the ones without an assessment, and a gate that
let them through would fail open.

Findings are only as good as the package list they were matched against: when the gate
knows which packages an image must hold (its lock), the packages read back from the written
image must be exactly those (``package_set_difference``), or nothing found means nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from zerocve.debian.model import PackageId
from zerocve.vuln.model import Finding, Severity, State


class FailOn(StrEnum):
    FIXED = "fixed"
    OPEN = "open"
    ANY = "any"

    @property
    def states(self) -> frozenset[State]:
        return _STATES[self]


_STATES = {
    FailOn.FIXED: frozenset({State.FIXED}),
    FailOn.OPEN: frozenset({State.FIXED, State.FIX_UNAVAILABLE, State.OPEN}),
    FailOn.ANY: frozenset(State),
}

# What the CLI offers for --min-severity: "unknown" is not a threshold (see above).
THRESHOLDS = tuple(s for s in Severity if s is not Severity.UNKNOWN)


def over_gate(
    findings: Iterable[Finding], fail_on: FailOn, min_severity: Severity = Severity.NEGLIGIBLE
) -> list[Finding]:
    """The findings that fail the gate, worst first (see ``worst_first``)."""
    states = fail_on.states
    failing = [
        f
        for f in findings
        if f.state in states
        and (f.severity is Severity.UNKNOWN or f.severity.rank >= min_severity.rank)
    ]
    return worst_first(failing)


def worst_first(findings: Iterable[Finding]) -> list[Finding]:
    """Fixable before the rest, then by severity (highest first), package, vulnerability."""
    return sorted(
        findings,
        key=lambda f: (
            not f.state.fixable,
            -f.severity.rank,
            f.package.name,
            f.vulnerability,
        ),
    )


def describe(findings: list[Finding], fail_on: FailOn, *, limit: int = 3) -> str:
    """``3 fixable CVEs (CVE-2024-0727 openssl 3.0.11-1 → 3.0.13-1, …)``; worst first."""
    noun = {
        FailOn.FIXED: "fixable vulnerabilit",
        FailOn.OPEN: "unfixed or fixable vulnerabilit",
        FailOn.ANY: "vulnerabilit",
    }[fail_on]
    noun += "y" if len(findings) == 1 else "ies"
    shown = []
    for f in findings[:limit]:
        item = f"{f.vulnerability} {f.package.name} {f.package.version}"
        item += f" → {f.fixed_version}" if f.fixed_version else f" ({f.state.value})"
        shown.append(item)
    more = len(findings) - limit
    if more > 0:
        shown.append(f"and {more} more")
    return f"{len(findings)} {noun} ({', '.join(shown)})"


def _keys(packages: Iterable[PackageId]) -> set[tuple[str, str, str]]:
    return {(p.name, p.version, p.architecture) for p in packages}


def package_set_difference(
    found: Iterable[PackageId], expected: Iterable[PackageId], *, limit: int = 3
) -> str | None:
    """How the packages read back from an image (``found``) differ from those it must hold
    (``expected``, by name, version and architecture), in one line; None when they agree."""
    have, want = _keys(found), _keys(expected)
    parts = []
    for label, keys in (("missing", want - have), ("not in the lock", have - want)):
        if keys:
            shown = [f"{n} {v} ({a})" for n, v, a in sorted(keys)[:limit]]
            more = f", and {len(keys) - limit} more" if len(keys) > limit else ""
            parts.append(f"{len(keys)} {label}: {', '.join(shown)}{more}")
    if not parts:
        return None
    return (f"the image's package database differs from the lock ({len(have)} packages read "
            f"back, {len(want)} locked): " + "; ".join(parts))
