"""Findings: one (vulnerability, package) pair with exactly one state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Inventory


class State(StrEnum):
    FIXED = "fixed"  # a fixed version exists in the repositories; the installed one is older
    FIX_UNAVAILABLE = "fix-unavailable"  # fixed upstream, not in the image's repositories
    OPEN = "open"  # no fix yet
    NO_DSA = "no-dsa"  # minor issue: Debian will not issue an advisory
    IGNORED = "ignored"
    POSTPONED = "postponed"
    END_OF_LIFE = "end-of-life"
    UNIMPORTANT = "unimportant"

    @property
    def fixable(self) -> bool:
        return self is State.FIXED


class Severity(StrEnum):
    UNKNOWN = "unknown"
    NEGLIGIBLE = "negligible"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True)
class Cvss:
    version: str  # "3.1", "4.0"
    vector: str
    score: float | None = None


@dataclass(frozen=True)
class Finding:
    vulnerability: str  # "CVE-2024-1234" (or DSA/DLA id when no CVE is known)
    package: InstalledPackage
    state: State
    severity: Severity  # chosen by --severity-source (Debian urgency by default)
    fixed_version: str | None = None
    urgency: str | None = None  # Debian's own assessment, verbatim
    cvss: tuple[Cvss, ...] = ()
    aliases: tuple[str, ...] = ()  # DSA-/DLA- ids naming the same fix
    description: str = ""
    note: str = ""  # e.g. the tracker's nodsa_reason
    sources: tuple[str, ...] = ()  # "debian-tracker", "osv"


@dataclass(frozen=True)
class Suppression:
    finding: Finding
    status: str  # "not_affected", "fixed", ...
    justification: str
    statement_source: str  # the VEX file it came from
    impact_statement: str = ""  # the statement's free-text reason, when it gives one


@dataclass(frozen=True)
class ScanResult:
    inventory: Inventory
    findings: tuple[Finding, ...]
    suppressed: tuple[Suppression, ...] = ()
    db_built: str | None = None  # ISO date of the advisory DB
    platform: str | None = None  # which image of a multi-platform index ("linux/arm64/v8")
