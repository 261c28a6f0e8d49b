"""Severity: Debian's urgency, CVSS base scores, and the choice between them.

Debian's urgency is the default because it rates the issue *as shipped in Debian* (a flaw in
a feature Debian does not build is "unimportant" there even when NVD says 9.8).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Literal

from zerocve.vuln.model import Cvss, Severity

SeveritySource = Literal["debian", "cvss"]

_URGENCY = {
    "unimportant": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
}


def from_urgency(urgency: str | None) -> Severity:
    """Debian urgency → severity. The tracker marks an urgency it took from NVD with a
    trailing ``**`` ("low**"); it is still the only Debian-side rating, so it counts.
    "not yet assigned", "end-of-life" (says nothing about the flaw) and unknown words map to
    UNKNOWN, which lets the caller fall back to CVSS."""
    if not urgency:
        return Severity.UNKNOWN
    return _URGENCY.get(urgency.strip().rstrip("*").strip().lower(), Severity.UNKNOWN)


def from_score(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating of a base score."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.NEGLIGIBLE


def from_cvss(vectors: Iterable[Cvss]) -> Severity:
    """The highest rating among the scored vectors; UNKNOWN when none carries a score."""
    scores = [c.score for c in vectors if c.score is not None]
    return from_score(max(scores)) if scores else Severity.UNKNOWN


def choose(urgency: str | None, cvss: Iterable[Cvss], source: SeveritySource) -> Severity:
    """The finding's severity from ``source``, falling back to the other one when the
    preferred rating is unknown."""
    debian = from_urgency(urgency)
    scored = from_cvss(cvss)
    first, second = (debian, scored) if source == "debian" else (scored, debian)
    return first if first is not Severity.UNKNOWN else second


# CVSS v3.x base metric weights (FIRST CVSS v3.1 specification, section 7.4).
_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}


def _roundup(value: float) -> float:
    """Round up to one decimal the way the v3.1 spec defines it (integer arithmetic, so
    4.000000001 from float error does not become 4.1)."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    """Base score of a ``CVSS:3.0/...`` or ``CVSS:3.1/...`` vector; ValueError on junk."""
    parts = vector.strip().split("/")
    if not parts[0].startswith("CVSS:3"):
        raise ValueError(f"not a CVSS v3 vector: {vector!r}")
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        changed = metrics["S"] == "C"
        if metrics["S"] not in ("U", "C"):
            raise KeyError("S")
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[metrics["PR"]]
        exploitability = 8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * pr * _UI[metrics["UI"]]
        c, i, a = (_CIA[metrics[k]] for k in ("C", "I", "A"))
    except KeyError as e:
        raise ValueError(f"CVSS vector {vector!r}: missing or invalid metric {e.args[0]}") from None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    if changed:
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    else:
        impact = 6.42 * iss
    if impact <= 0:
        return 0.0
    total = impact + exploitability
    return _roundup(min(1.08 * total if changed else total, 10.0))


@functools.lru_cache(maxsize=8192)  # a feed repeats a few thousand vectors 20,000 times
def parse_vector(vector: str) -> Cvss:
    """A ``Cvss`` record for a vector string; the base score is computed for v3 vectors and
    left unset for others (v2, v4), whose vectors are kept for display."""
    text = vector.strip()
    if text.startswith("CVSS:"):
        version = text.split("/", 1)[0].removeprefix("CVSS:")
    else:
        version = "2.0"  # v2 vectors carry no prefix ("AV:N/AC:L/Au:N/...")
    score = cvss3_base_score(text) if version.startswith("3") else None
    return Cvss(version=version, vector=text, score=score)


__all__ = [
    "SeveritySource",
    "choose",
    "cvss3_base_score",
    "from_cvss",
    "from_score",
    "from_urgency",
    "parse_vector",
]
