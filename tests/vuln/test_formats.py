"""Report formats: table grouping and order, the JSON shape, determinism, OpenVEX round trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from support.findings import DIGEST, LIBSSL, OPENSSL, ZLIB, finding, inventory, sample_result
from zerocve.settings import Settings
from zerocve.vuln import vex
from zerocve.vuln.formats import OutputFormat, RenderOptions, renderer
from zerocve.vuln.formats.table import grouped, summary
from zerocve.vuln.model import ScanResult, Severity, State, Suppression

FIXED_TIME = RenderOptions(timestamp=datetime(2025, 2, 12, tzinfo=UTC))
IMAGE = {"image_digest": DIGEST, "image_name": "127.0.0.1:5000/zerocve/python:3.11"}


def with_suppression(result: ScanResult) -> ScanResult:
    """The sample with its no-dsa finding moved to suppressed (both reasons given)."""
    target = next(f for f in result.findings if f.state is State.NO_DSA)
    return dataclasses.replace(
        result,
        findings=tuple(f for f in result.findings if f is not target),
        suppressed=(
            Suppression(
                target,
                "not_affected",
                "vulnerable_code_not_in_execute_path",
                "vex.json: statements[0]",
                impact_statement="only reachable through s_server",
            ),
        ),
    )


def test_table_groups_by_package_fixable_first() -> None:
    groups = grouped(sample_result().findings)
    assert [(p.name, [f.vulnerability for f in items]) for p, items in groups] == [
        # Fixable packages first, the one with the worst finding first (medium > low).
        ("libssl3", ["CVE-2023-5678", "CVE-2024-0727", "CVE-2024-2511"]),
        ("openssl", ["CVE-2024-0727"]),
        # Then the rest by worst severity: zlib's critical before libc's high.
        ("zlib1g", ["CVE-2023-45853"]),
        ("libc6", ["CVE-2024-99999", "CVE-2024-33601", "CVE-2025-0395"]),
    ]


def test_table_text() -> None:
    text = renderer(OutputFormat.TABLE)(with_suppression(sample_result()), FIXED_TIME)
    lines = text.splitlines()
    assert lines[0] == "rootfs · debian 12 (bookworm) · 5 packages · advisory DB built 2025-02-12"
    assert lines[1].split() == [
        "NAME",
        "INSTALLED",
        "FIXED-IN",
        "VULNERABILITY",
        "SEVERITY",
        "STATE",
    ]
    assert lines[2].split() == [
        "libssl3",
        "3.0.11-1~deb12u2",
        "3.0.13-1~deb12u1",
        "CVE-2023-5678",
        "medium",
        "fixed",
    ]
    # The package name is shown once per group; the CVSS score stands beside the severity.
    assert lines[3].split() == ["3.0.13-1~deb12u1", "CVE-2024-0727", "low", "(7.5)", "fixed"]
    assert "CVE-2024-2511" not in text  # suppressed: not listed without --show-suppressed
    assert lines[-1] == (
        "7 findings: 3 fixed, 1 fix-unavailable, 1 open, 1 ignored, 1 postponed; "
        "1 suppressed by VEX (--show-suppressed lists them)"
    )
    assert all(line == line.rstrip() for line in lines)
    assert "\x1b[" not in text


def test_table_shows_suppressed_on_request_and_colours_on_request() -> None:
    result = with_suppression(sample_result())
    shown = renderer(OutputFormat.TABLE)(result, RenderOptions(show_suppressed=True))
    row = next(line for line in shown.splitlines() if "CVE-2024-2511" in line)
    assert row.split() == [
        "libssl3",
        "3.0.11-1~deb12u2",
        "CVE-2024-2511",
        "not_affected",
        "vulnerable_code_not_in_execute_path",
        "vex.json:",
        "statements[0]",
    ]
    coloured = renderer(OutputFormat.TABLE)(result, RenderOptions(color=True))
    assert "\x1b[" in coloured


def test_table_clean_scan() -> None:
    clean = ScanResult(inventory=inventory(), findings=())
    text = renderer(OutputFormat.TABLE)(clean, FIXED_TIME)
    assert "NAME" not in text
    assert text.splitlines()[-1] == "0 findings"


def test_summary_singular() -> None:
    one = ScanResult(inventory=inventory(), findings=(finding("CVE-1", LIBSSL),))
    assert summary(one) == "1 finding: 1 fixed"


def test_json_shape() -> None:
    result = with_suppression(sample_result(**IMAGE))
    doc = json.loads(renderer(OutputFormat.JSON)(result, FIXED_TIME))
    assert doc["schemaVersion"] == 1
    assert doc["target"] == "rootfs"
    assert doc["image"] == {
        "name": "127.0.0.1:5000/zerocve/python:3.11",
        "digest": DIGEST,
        "purl": f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/zerocve/python",
    }
    assert doc["distro"] == {"id": "debian", "versionId": "12", "codename": "bookworm"}
    assert doc["db"] == {"built": "2025-02-12"}
    assert doc["packages"] == 5
    assert doc["summary"] == {
        "fixed": 3,
        "fix-unavailable": 1,
        "open": 1,
        "no-dsa": 0,
        "ignored": 1,
        "postponed": 1,
        "end-of-life": 0,
        "unimportant": 0,
        "suppressed": 1,
    }
    keys = [(f["package"]["name"], f["vulnerability"]) for f in doc["findings"]]
    assert keys == sorted(keys) and len(keys) == 7
    first = doc["findings"][0]
    assert first == {
        "vulnerability": "CVE-2024-33601",
        "aliases": [],
        "package": {
            "name": "libc6",
            "version": "2.36-9+deb12u3",
            "architecture": "amd64",
            "source": "glibc",
            "sourceVersion": "2.36-9+deb12u3",
            "purl": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u3?arch=amd64&distro=debian-12",
        },
        "state": "postponed",
        "severity": "medium",
        "urgency": None,
        "fixedVersion": None,
        "cvss": [
            {
                "version": "4.0",
                "vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
                "score": None,
            }
        ],
        "description": "",
        "note": "",
        "sources": [],
        "url": "https://security-tracker.debian.org/tracker/CVE-2024-33601",
    }
    (s,) = doc["suppressed"]
    assert s["vulnerability"] == "CVE-2024-2511"
    assert s["vex"] == {
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
        "impactStatement": "only reachable through s_server",
        "statement": "vex.json: statements[0]",
    }


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_is_deterministic(fmt: OutputFormat) -> None:
    result = with_suppression(sample_result(**IMAGE))
    reversed_result = dataclasses.replace(result, findings=result.findings[::-1])
    render = renderer(fmt)
    assert render(result, FIXED_TIME) == render(reversed_result, FIXED_TIME)


def test_source_date_epoch_sets_the_timestamp() -> None:
    settings = Settings.from_env({"HOME": "/h", "SOURCE_DATE_EPOCH": "1739318400"})
    assert RenderOptions(timestamp=settings.now()).timestamp_text == "2025-02-12T00:00:00Z"
    assert abs((RenderOptions().timestamp - datetime.now(tz=UTC)).total_seconds()) < 5


def test_openvex_ids_follow_content_not_time() -> None:
    result = sample_result(**IMAGE)
    later = RenderOptions(timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    a = json.loads(renderer(OutputFormat.OPENVEX)(result, FIXED_TIME))
    b = json.loads(renderer(OutputFormat.OPENVEX)(result, later))
    assert a["@id"] == b["@id"] and a["timestamp"] != b["timestamp"]
    fewer = dataclasses.replace(result, findings=result.findings[1:])
    c = json.loads(renderer(OutputFormat.OPENVEX)(fewer, FIXED_TIME))
    assert c["@id"] != a["@id"]


def test_openvex_groups_packages_of_one_vulnerability() -> None:
    doc = json.loads(renderer(OutputFormat.OPENVEX)(sample_result(**IMAGE), FIXED_TIME))
    (stmt,) = [s for s in doc["statements"] if s["vulnerability"]["name"] == "CVE-2024-0727"]
    assert stmt["vulnerability"]["aliases"] == ["DSA-5621-1"]
    assert stmt["action_statement"] == "Upgrade openssl to 3.0.13-1~deb12u1."
    (product,) = stmt["products"]
    assert product["@id"].startswith(f"pkg:oci/python@{DIGEST}")
    assert [s["@id"] for s in product["subcomponents"]] == [
        "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
        "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
    ]
    no_fix = next(s for s in doc["statements"] if s["vulnerability"]["name"] == "CVE-2024-2511")
    assert no_fix["action_statement"] == "No fixed version in Debian yet (no-dsa: Minor issue)."


def test_openvex_output_read_back_as_vex() -> None:
    """Our own document is valid VEX input: 'affected' suppresses nothing; flipping a statement
    to not_affected suppresses exactly the findings it lists."""
    result = sample_result(**IMAGE)
    doc = json.loads(renderer(OutputFormat.OPENVEX)(result, FIXED_TIME))
    statements = vex.parse(json.dumps(doc), "out.vex.json")
    kept, suppressed = vex.apply(result.findings, statements, result.inventory)
    assert suppressed == () and len(kept) == len(result.findings)

    target = next(s for s in doc["statements"] if s["vulnerability"]["name"] == "CVE-2024-0727")
    target["status"] = "not_affected"
    target["justification"] = "vulnerable_code_not_present"
    del target["action_statement"]
    kept, suppressed = vex.apply(
        result.findings, vex.parse(json.dumps(doc), "out.vex.json"), result.inventory
    )
    assert sorted(s.finding.package.name for s in suppressed) == ["libssl3", "openssl"]
    assert {s.justification for s in suppressed} == {"vulnerable_code_not_present"}


def test_openvex_for_a_root_filesystem_names_packages_directly() -> None:
    doc = json.loads(renderer(OutputFormat.OPENVEX)(sample_result(), FIXED_TIME))
    products = [p for s in doc["statements"] for p in s["products"]]
    assert products and all(p["@id"].startswith("pkg:deb/debian/") for p in products)
    assert all("subcomponents" not in p for p in products)


def test_sarif_rules_and_results() -> None:
    result = with_suppression(sample_result())
    doc = json.loads(renderer(OutputFormat.SARIF)(result, FIXED_TIME))
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(
        {f.vulnerability for f in result.findings} | {"CVE-2024-2511"}
    )
    by_id = {r["id"]: r for r in rules}
    assert by_id["CVE-2023-45853"]["properties"]["security-severity"] == "9.8"
    assert by_id["CVE-2023-5678"]["properties"]["security-severity"] == "5.5"  # band of medium
    assert "security-severity" not in by_id["CVE-2025-0395"]["properties"]  # unknown
    results = run["results"]
    assert len(results) == 8  # one per (vulnerability, package), suppressed included
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    levels = {
        (r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r["level"] for r in results
    }
    assert levels[("CVE-2023-45853", "zlib1g")] == "error"
    assert levels[("CVE-2023-5678", "libssl3")] == "warning"
    assert levels[("CVE-2024-0727", "openssl")] == "note"
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"var/lib/dpkg/status"}
    (suppressed,) = [r for r in results if "suppressions" in r]
    assert suppressed["ruleId"] == "CVE-2024-2511"
    assert suppressed["suppressions"][0]["kind"] == "external"
    libc = next(r for r in results if r["ruleId"] == "CVE-2024-99999")
    assert libc["message"]["text"] == (
        "libc6 2.36-9+deb12u3 (source glibc 2.36-9+deb12u3) is affected by CVE-2024-99999 "
        "(fix-unavailable, severity high); fixed in 2.36-9+deb12u9."
    )


def test_sarif_location_is_the_package_record_when_known() -> None:
    distroless = dataclasses.replace(ZLIB, location="var/lib/dpkg/status.d/zlib1g")
    result = ScanResult(inventory=inventory(distroless), findings=(finding("CVE-1", distroless),))
    doc = json.loads(renderer(OutputFormat.SARIF)(result, FIXED_TIME))
    location = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "var/lib/dpkg/status.d/zlib1g"


def test_cyclonedx_vulnerabilities() -> None:
    result = with_suppression(sample_result(**IMAGE))
    doc = json.loads(renderer(OutputFormat.CYCLONEDX)(result, FIXED_TIME))
    assert doc["metadata"]["component"]["type"] == "container"
    assert len(doc["components"]) == 5
    refs = {c["bom-ref"] for c in doc["components"]}
    vulns = doc["vulnerabilities"]
    for v in vulns:
        assert {a["ref"] for a in v["affects"]} <= refs
    (pkcs12,) = [v for v in vulns if v["id"] == "CVE-2024-0727"]
    assert len(pkcs12["affects"]) == 2
    assert pkcs12["ratings"] == [
        {
            "source": {
                "name": "Debian",
                "url": "https://security-tracker.debian.org/tracker/CVE-2024-0727",
            },
            "severity": "low",
            "method": "other",
            "justification": "Debian urgency: low",
        },
        {
            "method": "CVSSv31",
            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "score": 7.5,
            "severity": "high",
        },
    ]
    assert pkcs12["references"][0]["id"] == "DSA-5621-1"
    assert pkcs12["recommendation"] == "Upgrade openssl to 3.0.13-1~deb12u1."
    assert {"name": "zerocve:state", "value": "fixed"} in pkcs12["properties"]
    (unimportant,) = [v for v in vulns if v["id"] == "CVE-2023-45853"]
    assert unimportant["ratings"][0]["severity"] == "info"
    (v4,) = [v for v in vulns if v["id"] == "CVE-2024-33601"]
    assert v4["ratings"] == [{"method": "CVSSv4", "vector": LIBC_V4}]
    (suppressed,) = [v for v in vulns if "analysis" in v]
    assert suppressed["id"] == "CVE-2024-2511"
    assert suppressed["analysis"] == {
        "state": "not_affected",
        "justification": "code_not_reachable",
        "detail": "only reachable through s_server (VEX: vex.json: statements[0])",
    }


LIBC_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"


def test_cyclonedx_for_a_root_filesystem_and_same_vuln_in_two_states() -> None:
    findings = (
        finding("CVE-2024-1", LIBSSL, State.FIXED),
        finding("CVE-2024-1", OPENSSL, State.NO_DSA, Severity.LOW),
    )
    result = ScanResult(inventory=inventory(), findings=findings)
    doc = json.loads(renderer(OutputFormat.CYCLONEDX)(result, FIXED_TIME))
    assert doc["metadata"]["component"]["type"] == "operating-system"
    states = sorted(
        next(p["value"] for p in v["properties"] if p["name"] == "zerocve:state")
        for v in doc["vulnerabilities"]
    )
    assert states == ["fixed", "no-dsa"]
