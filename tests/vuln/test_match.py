"""The matcher: every finding state from the tracker fixture merged with real OSV records,
source-version comparison, fix availability, and the pure verdict rules."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from support.data import OSV_ZIP
from zerocve.debian.model import InstalledPackage
from zerocve.debian.version import sort_key
from zerocve.errors import InventoryError
from zerocve.inventory.model import Distro, Inventory
from zerocve.vuln import db
from zerocve.vuln.db import AffectedRow
from zerocve.vuln.feeds.interface import Affected
from zerocve.vuln.match import assess, match
from zerocve.vuln.model import Finding, Severity, State

REAL_ZIP = OSV_ZIP
TRACKER = Path(__file__).parent / "data" / "tracker-bookworm.json"
SOURCES = {"openssl", "glibc", "zlib", "curl", "libxml2", "lvm2", "qtwebengine-opensource-src"}
BOOKWORM = Distro("debian", "12", "bookworm")


@pytest.fixture(scope="module")
def advisories(tmp_path_factory: pytest.TempPathFactory):
    """A DB of the tracker fixture and every real OSV record about the fixture's packages."""
    tmp = tmp_path_factory.mktemp("match")
    subset = tmp / "osv.zip"
    with zipfile.ZipFile(REAL_ZIP) as src, zipfile.ZipFile(subset, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if {a["package"]["name"] for a in json.loads(data)["affected"]} & SOURCES:
                out.writestr(name, data)
    path = tmp / "advisories.sqlite"
    db.update([db.FeedSource.of("osv", subset), db.FeedSource.of("debian-tracker", TRACKER)], path)
    with db.open_db(path) as opened:
        yield opened


def pkg(name: str, version: str, source: str = "", source_version: str = "") -> InstalledPackage:
    return InstalledPackage(name, version, "amd64", source or name, source_version or version)


def scan(advisories, *packages: InstalledPackage, **kwargs) -> list[Finding]:
    return match(Inventory("test", BOOKWORM, packages), advisories, **kwargs)


def one(findings: list[Finding], vuln: str, package: str) -> Finding:
    (found,) = [f for f in findings if f.vulnerability == vuln and f.package.name == package]
    return found


def test_every_state_from_the_tracker(advisories):
    findings = scan(
        advisories,
        pkg("libssl3", "3.0.11-1~deb12u2", "openssl"),
        pkg("libc6", "2.36-9+deb12u9", "glibc"),
        pkg("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
        pkg("libcurl4", "7.88.1-10+deb12u5", "curl"),
        pkg("libqt5webenginecore5", "5.15.13+dfsg-1~deb12u1", "qtwebengine-opensource-src"),
    )
    expected = {
        ("CVE-2024-0727", "libssl3"): (State.FIXED, "3.0.13-1~deb12u1"),
        ("CVE-2024-2511", "libssl3"): (State.FIXED, "3.0.14-1~deb12u1"),
        # fixed in 3.0.16-1~deb12u1, the archive still has 3.0.15-1~deb12u1
        ("CVE-2024-13176", "libssl3"): (State.FIX_UNAVAILABLE, "3.0.16-1~deb12u1"),
        ("CVE-2010-4756", "libc6"): (State.UNIMPORTANT, None),
        ("CVE-2025-0395", "libc6"): (State.OPEN, None),
        ("CVE-2023-4527", "libc6"): (State.OPEN, None),
        ("CVE-2023-45853", "zlib1g"): (State.IGNORED, None),
        # OSV says fixed in +deb12u6; the tracker (postponed) decides
        ("CVE-2024-2398", "libcurl4"): (State.POSTPONED, None),
        ("CVE-2024-7264", "libcurl4"): (State.NO_DSA, None),
        ("CVE-2024-7971", "libqt5webenginecore5"): (State.END_OF_LIFE, None),
    }
    for (vuln, name), (state, fixed) in expected.items():
        finding = one(findings, vuln, name)
        assert (finding.state, finding.fixed_version) == (state, fixed), vuln
    assert set(State) == {s for s, _ in expected.values()}  # every state is covered
    # not affected ("fixed_version": "0") never shows
    assert not [f for f in findings if f.vulnerability == "CVE-2022-2274"]
    notes = {f.vulnerability: f.note for f in findings}
    assert notes["CVE-2023-45853"].startswith("contrib/minizip not built")
    assert notes["CVE-2024-2398"] == "Minor issue"
    assert notes["CVE-2023-4527"].startswith("undetermined")
    assert notes["CVE-2024-7971"].startswith("package no longer has security support")


def test_osv_and_tracker_about_one_cve_are_one_finding(advisories):
    findings = scan(
        advisories,
        pkg("libssl3", "3.0.11-1~deb12u2", "openssl"),
        pkg("openssl", "3.0.11-1~deb12u2"),
    )
    both = [f for f in findings if f.vulnerability == "CVE-2024-0727"]
    assert sorted(f.package.name for f in both) == ["libssl3", "openssl"]  # once per binary
    finding = both[0]
    assert finding.sources == ("debian-tracker", "osv")
    assert [c.vector for c in finding.cvss] == ["CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"]
    assert "DLA-3942-1" in finding.aliases
    assert finding.description.startswith("Processing a maliciously formatted PKCS12")
    keys = [(f.vulnerability, f.package.name) for f in findings]
    assert len(keys) == len(set(keys))


def test_osv_only_findings_from_real_records(advisories):
    """curl CVEs the tracker fixture does not list come from the real OSV records alone."""
    findings = scan(advisories, pkg("libcurl4", "7.88.1-10+deb12u5", "curl"))
    osv_only = [f for f in findings if f.sources == ("osv",)]
    assert osv_only
    for f in osv_only:
        assert f.state in (State.FIXED, State.OPEN, State.UNIMPORTANT)
        if f.fixed_version:
            assert f.state is State.FIXED


def test_source_version_decides_not_the_binary_version(advisories):
    """dmsetup is built by lvm2 2.03.16-2 but carries its own epoch-2 version: compared by
    its binary version it would look newer than the fix 2.03.16-3."""
    findings = scan(advisories, pkg("dmsetup", "2:1.02.185-2", "lvm2", "2.03.16-2"))
    finding = one(findings, "CVE-2020-8991", "dmsetup")
    assert (finding.state, finding.fixed_version) == (State.FIXED, "2.03.16-3")
    assert finding.package.version == "2:1.02.185-2"
    assert finding.severity is Severity.LOW and finding.urgency == "low**"
    assert not scan(advisories, pkg("dmsetup", "2:1.02.185-3", "lvm2", "2.03.16-3"))


def test_binnmu_is_judged_by_its_source_version(advisories):
    fixed = "2.9.14+dfsg-1.3~deb12u1"
    rebuilt_fixed = pkg("libxml2", f"{fixed}+b1", "libxml2", fixed)
    assert not [f for f in scan(advisories, rebuilt_fixed) if f.vulnerability == "CVE-2024-25062"]
    old = pkg("libxml2", "2.9.14+dfsg-1.1+b2", "libxml2", "2.9.14+dfsg-1.1")
    finding = one(scan(advisories, old), "CVE-2024-25062", "libxml2")
    assert (finding.state, finding.fixed_version) == (State.FIXED, fixed)
    assert finding.package.version == "2.9.14+dfsg-1.1+b2"


def test_available_versions_make_unreachable_fixes_fix_unavailable(advisories):
    installed = pkg("libcurl4", "7.88.1-10+deb12u5", "curl")
    free = scan(advisories, installed)
    pinned = scan(advisories, installed, available_versions={"curl": "7.88.1-10+deb12u5"})
    assert [f.vulnerability for f in free] == [f.vulnerability for f in pinned]
    fixable = {f.vulnerability for f in free if f.state is State.FIXED}
    assert fixable
    for f in pinned:
        if f.vulnerability in fixable:
            assert f.state is State.FIX_UNAVAILABLE
    # a repository that has the fix keeps it fixable
    newest = max((f.fixed_version for f in free if f.fixed_version), key=sort_key)
    reachable = scan(advisories, installed, available_versions={"curl": newest})
    assert {f.vulnerability for f in reachable if f.state is State.FIXED} == fixable


def test_real_openssl_version_from_an_osv_versions_list(advisories):
    """An openssl source version that OSV's own record lists as affected gets a `fixed`
    finding with the record's fixed version."""
    with zipfile.ZipFile(REAL_ZIP) as z:
        record = json.loads(z.read("CVE-2023-5678.json"))
    (entry,) = [
        a
        for a in record["affected"]
        if a["package"] == {**a["package"], "ecosystem": "Debian:12", "name": "openssl"}
    ]
    fixed = next(e["fixed"] for e in entry["ranges"][0]["events"] if "fixed" in e)
    old = next(v for v in entry["versions"] if v.startswith("3.0.") and "deb12" in v)
    finding = one(scan(advisories, pkg("libssl3", old, "openssl")), "CVE-2023-5678", "libssl3")
    assert (finding.state, finding.fixed_version) == (State.FIXED, fixed)
    assert not [
        f
        for f in scan(advisories, pkg("libssl3", fixed, "openssl"))
        if f.vulnerability == "CVE-2023-5678"
    ]


def test_severity_source(advisories):
    installed = pkg("libcurl4", "7.88.1-10+deb12u5", "curl")
    debian = one(scan(advisories, installed), "CVE-2024-7264", "libcurl4")
    cvss = one(scan(advisories, installed, severity_source="cvss"), "CVE-2024-7264", "libcurl4")
    assert debian.urgency == "low" and debian.severity is Severity.LOW
    assert [c.score for c in cvss.cvss] == [6.5] and cvss.severity is Severity.MEDIUM
    # "not yet assigned" falls back to CVSS; no CVSS at all stays unknown
    ossl = one(
        scan(advisories, pkg("libssl3", "3.0.11-1~deb12u2", "openssl")), "CVE-2024-0727", "libssl3"
    )
    assert ossl.urgency == "not yet assigned" and ossl.severity is Severity.MEDIUM
    glibc = one(scan(advisories, pkg("libc6", "2.36-9+deb12u9", "glibc")), "CVE-2025-0395", "libc6")
    assert glibc.cvss == () and glibc.severity is Severity.UNKNOWN


def test_release_selection(advisories):
    installed = (pkg("libssl3", "3.0.11-1~deb12u2", "openssl"),)
    trixie = match(Inventory("t", Distro("debian", "13", "trixie"), installed), advisories)
    assert one(trixie, "CVE-2024-0727", "libssl3").fixed_version == "3.1.5-1"
    by_number = match(Inventory("t", Distro("debian", "12", ""), installed), advisories)
    assert by_number == scan(advisories, *installed)
    with pytest.raises(InventoryError, match=r"^t: no Debian release found"):
        match(Inventory("t", None, installed), advisories)
    junk = pkg("libssl3", "1:", "openssl")
    with pytest.raises(InventoryError, match=r"^test: package libssl3: invalid version '1:'"):
        scan(advisories, junk)
    with pytest.raises(InventoryError, match=r"'ubuntu' is not Debian"):
        match(Inventory("t", Distro("ubuntu", "24.04", "noble"), installed), advisories)


# --- the pure verdict -------------------------------------------------------------------


def row(feed: str = "osv", **fields: object) -> AffectedRow:
    return AffectedRow("CVE-2099-1", feed, Affected("bookworm", "foo", **fields))  # type: ignore[arg-type]


def test_tracker_not_affected_hides_an_osv_range():
    rows = [row(fixed="2.0-1"), row("debian-tracker", fixed="0", status="resolved")]
    assert assess("1.0-1", rows) is None


def test_osv_ranges_bounds():
    rows = [row(introduced="1.0-1", fixed="1.0-5")]
    assert assess("0.9-1", rows) is None
    assert assess("1.0-1", rows).state is State.FIXED
    assert assess("1.0-4+b1", rows).fixed_version == "1.0-5"
    assert assess("1.0-5", rows) is None
    assert assess("1.0-5~bpo1", rows) is not None  # ~ sorts before: still affected


def test_overlapping_ranges_need_the_last_fix_and_an_unfixed_one_wins():
    fixed_twice = [row(fixed="1.0-3"), row(fixed="1.0-7")]
    assert assess("1.0-2", fixed_twice).fixed_version == "1.0-7"
    assert assess("1.0-3", fixed_twice).fixed_version == "1.0-7"
    never = [row(fixed="1.0-3"), row(urgency="unimportant")]
    verdict = assess("1.0-2", never)
    assert (verdict.state, verdict.fixed_version) == (State.UNIMPORTANT, None)


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"urgency": "end-of-life", "nodsa": "Minor issue"}, State.END_OF_LIFE),
        ({"urgency": "unimportant"}, State.UNIMPORTANT),
        ({"nodsa": "Minor issue", "nodsa_reason": "ignored"}, State.IGNORED),
        ({"nodsa": "Minor issue", "nodsa_reason": "postponed"}, State.POSTPONED),
        ({"nodsa": "Minor issue"}, State.NO_DSA),
        ({"status": "undetermined"}, State.OPEN),
        ({"urgency": "high"}, State.OPEN),
    ],
)
def test_unfixed_states(fields, state):
    verdict = assess("1.0-1", [row("debian-tracker", **({"status": "open"} | fields))])
    assert verdict is not None and verdict.state is state


def test_fix_availability_from_tracker_repositories_or_caller():
    repos = (("bookworm", "1.0-1"), ("bookworm-security", "1.0-3"))
    tracker = [row("debian-tracker", status="resolved", fixed="1.0-3", repositories=repos)]
    assert assess("1.0-1", tracker).state is State.FIXED  # bookworm-security has it
    behind = (("bookworm", "1.0-1"), ("bookworm-security", "1.0-2"))
    tracker = [row("debian-tracker", status="resolved", fixed="1.0-3", repositories=behind)]
    assert assess("1.0-1", tracker).state is State.FIX_UNAVAILABLE
    assert assess("1.0-1", tracker, available="1.0-3").state is State.FIXED
    assert assess("1.0-1", [row(fixed="1.0-3")], available="1.0-2").state is State.FIX_UNAVAILABLE
