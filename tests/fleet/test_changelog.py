"""A promotion's changelog: packages old → new, CVEs fixed and introduced (the comparison of
``zerocve diff``), and the time to remediate from first-seen times. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.findings import finding, pkg
from support.locks import make_lock
from zerocve.fleet.changelog import Seen, duration, fixing_versions, make_changelog
from zerocve.fleet.diff import diff_images
from zerocve.vuln.model import State

PROMOTED = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OLD_SSL = pkg("libssl3", "3.0.11-1", source="openssl")
NEW_SSL = pkg("libssl3", "3.0.13-1", source="openssl")
LIBC = pkg("libc6", "2.36-9", source="glibc")
NEW_LOCK = make_lock(("libc6", "2.36-9", "glibc"), ("libssl3", "3.0.13-1", "openssl"))


def _diff(introduce: bool = False):
    before = [finding("CVE-2024-0727", OLD_SSL), finding("CVE-2024-2511", OLD_SSL),
              finding("CVE-2010-4051", LIBC, State.UNIMPORTANT)]  # fmt: skip
    after = [finding("CVE-2010-4051", LIBC, State.UNIMPORTANT)]
    if introduce:
        after.append(finding("CVE-2026-0001", NEW_SSL, State.OPEN))
    return diff_images("sha256:old", "sha256:new", ([OLD_SSL, LIBC], [NEW_SSL, LIBC]),
                       (before, after))  # fmt: skip


def test_a_changelog_names_the_moves_the_fixes_and_the_time_to_remediate():
    version_seen = {("openssl", "3.0.13-1"): Seen(PROMOTED - timedelta(minutes=4, seconds=10))}
    advisory_seen = {("openssl", "CVE-2024-0727"): Seen(PROMOTED - timedelta(hours=2))}
    log = make_changelog(
        "python", digest_old="sha256:old", digest_new="sha256:new", promoted_at=PROMOTED,
        diff=_diff(), new_lock=NEW_LOCK, bytes_pushed=1_234_567,
        tests=[{"command": ["python3", "-c", "1"], "exit_code": 0}],
        version_seen=version_seen, advisory_seen=advisory_seen,
    )  # fmt: skip
    assert [(p.name, p.before, p.after) for p in log.diff.packages] == [
        ("libssl3", "3.0.11-1", "3.0.13-1")
    ]
    by_cve = {r.vulnerability: r for r in log.remediations}
    assert by_cve["CVE-2024-0727"].seconds == 250
    assert by_cve["CVE-2024-0727"].seconds_since_advisory == 7200
    assert by_cve["CVE-2024-2511"].advisory_seen is None
    assert log.time_to_remediate == 250
    assert log.summary() == (
        "libssl3 3.0.11-1 → 3.0.13-1; fixes CVE-2024-0727, CVE-2024-2511; 1.2 MB pushed; "
        "remediated in 4m 10s"
    )
    data = log.to_json()
    assert data["digest_new"] == "sha256:new" and data["bytes_pushed"] == 1_234_567
    assert [f["vulnerability"] for f in data["vulnerabilities"]["fixed"]] == [
        "CVE-2024-0727", "CVE-2024-2511"
    ]  # fmt: skip
    assert data["tests"] == [{"command": ["python3", "-c", "1"], "exit_code": 0}]
    assert data["time_to_remediate"] == 250


def test_a_version_present_when_watching_began_gives_no_remediation_time():
    seen = {("openssl", "3.0.13-1"): Seen(PROMOTED - timedelta(days=3), baseline=True)}
    log = make_changelog("python", digest_old=None, digest_new="sha256:new", promoted_at=PROMOTED,
                         diff=_diff(), new_lock=NEW_LOCK, bytes_pushed=0,
                         version_seen=seen)  # fmt: skip
    assert log.time_to_remediate is None
    assert all(r.to_json()["baseline"] for r in log.remediations)
    assert "remediated" not in log.summary()


def test_introduced_cves_are_named():
    log = make_changelog("python", digest_old="sha256:old", digest_new="sha256:new",
                         promoted_at=PROMOTED, diff=_diff(introduce=True), new_lock=NEW_LOCK,
                         bytes_pushed=0)  # fmt: skip
    assert "introduces CVE-2026-0001" in log.summary()


def test_a_cve_gone_with_its_package_is_not_attributed_to_a_version():
    lock = make_lock(("libc6", "2.36-9", "glibc"))  # libssl3 removed
    assert fixing_versions(_diff(), lock) == []
    assert fixing_versions(_diff(), NEW_LOCK) == [
        ("CVE-2024-0727", "openssl", "3.0.13-1"), ("CVE-2024-2511", "openssl", "3.0.13-1")
    ]  # fmt: skip


def test_durations():
    assert [duration(s) for s in (5, 250, 3 * 3600 + 60, 2 * 86400 + 7200)] == [
        "5s", "4m 10s", "3h 1m", "2d 2h"
    ]  # fmt: skip


def test_a_rebuild_for_an_edited_spec_says_so():
    same = diff_images("sha256:old", "sha256:new", ([LIBC], [LIBC]), ([], []))
    log = make_changelog("python", digest_old="sha256:old", digest_new="sha256:new",
                         promoted_at=PROMOTED, diff=same, new_lock=NEW_LOCK, bytes_pushed=2000,
                         spec_change="the spec changed: entrypoint")  # fmt: skip
    assert log.summary() == "the spec changed: entrypoint; 0.0 MB pushed"
    assert log.to_json()["spec_change"] == "the spec changed: entrypoint"
    both = make_changelog("python", digest_old="sha256:old", digest_new="sha256:new",
                          promoted_at=PROMOTED, diff=_diff(), new_lock=NEW_LOCK, bytes_pushed=0,
                          spec_change="the spec changed: environment")  # fmt: skip
    assert both.summary().startswith(
        "libssl3 3.0.11-1 → 3.0.13-1; the spec changed: environment; fixes CVE-2024-0727")
    unchanged = make_changelog("python", digest_old="sha256:old", digest_new="sha256:new",
                               promoted_at=PROMOTED, diff=same, new_lock=NEW_LOCK, bytes_pushed=0)
    assert unchanged.summary().startswith("no package change;")
