"""Severity: Debian urgency, CVSS v3 base scores (checked against the independent `cvss`
package on every vector in the real OSV zip), and the fallback between them."""

from __future__ import annotations

import json
import zipfile

import pytest
from cvss import CVSS3

from support.data import OSV_ZIP
from zerocve.vuln.model import Cvss, Severity
from zerocve.vuln.severity import (
    choose,
    cvss3_base_score,
    from_cvss,
    from_score,
    from_urgency,
    parse_vector,
)

REAL_ZIP = OSV_ZIP


@pytest.mark.parametrize(
    ("urgency", "severity"),
    [
        ("unimportant", Severity.NEGLIGIBLE),
        ("low", Severity.LOW),
        ("medium", Severity.MEDIUM),
        ("high", Severity.HIGH),
        ("low**", Severity.LOW),  # the tracker's mark for an urgency taken from NVD
        ("not yet assigned", Severity.UNKNOWN),
        ("end-of-life", Severity.UNKNOWN),
        ("", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
        ("bogus", Severity.UNKNOWN),
    ],
)
def test_from_urgency(urgency, severity):
    assert from_urgency(urgency) is severity


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.0, Severity.NEGLIGIBLE),
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_from_score(score, severity):
    assert from_score(score) is severity


def test_every_real_cvss3_vector_scores_like_the_cvss_package():
    vectors = set()
    with zipfile.ZipFile(REAL_ZIP) as z:
        for name in z.namelist():
            for sev in json.loads(z.read(name)).get("severity", []):
                if sev["type"] == "CVSS_V3":
                    vectors.add(sev["score"])
    assert len(vectors) > 500
    for vector in vectors:
        assert cvss3_base_score(vector) == float(CVSS3(vector).scores()[0]), vector


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_known_scores(vector, score):
    assert cvss3_base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    ["CVSS:3.1/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:N/AC:L/Au:N/C:P/I:P/A:P"],
)
def test_bad_vectors(vector):
    with pytest.raises(ValueError):
        cvss3_base_score(vector)


def test_parse_vector_versions():
    assert parse_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == Cvss(
        "3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8
    )
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    assert parse_vector(v4) == Cvss("4.0", v4, None)  # kept for display, not scored
    assert parse_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P").version == "2.0"


def test_choose_prefers_the_asked_source_and_falls_back():
    high = (Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),)
    assert choose("unimportant", high, "debian") is Severity.NEGLIGIBLE
    assert choose("unimportant", high, "cvss") is Severity.CRITICAL
    assert choose("not yet assigned", high, "debian") is Severity.CRITICAL
    assert choose("low", (), "cvss") is Severity.LOW
    assert choose(None, (), "debian") is Severity.UNKNOWN
    unscored = (Cvss("4.0", "CVSS:4.0/AV:N", None),)
    assert from_cvss(unscored) is Severity.UNKNOWN
    two = (Cvss("3.1", "a", 5.0), Cvss("3.1", "b", 7.5))
    assert from_cvss(two) is Severity.HIGH
