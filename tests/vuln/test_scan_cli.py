"""`zerocve scan` end to end, as a user runs it: a real process, a root filesystem with a
hand-written dpkg status holding an old OpenSSL, and an advisory DB built by zerocve from the
real OSV records for OpenSSL in the shared Debian export. Exit codes 0/1/2/3 and every
format (validated against the official schemas)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.schemas import validate
from zerocve.vuln import db

OSV_ZIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "debian-osv-2025-02-12.zip"
OLD = "3.0.11-1~deb12u2"  # bookworm's OpenSSL of late 2023: fixed by several later DSAs
NEW = "3.0.15-1~deb12u1"  # fixes all of the export's OpenSSL CVEs but one

pytestmark = pytest.mark.skipif(not OSV_ZIP.is_file(), reason=f"{OSV_ZIP} not present")


def _openssl_entries(record: dict) -> list[dict]:
    return [
        a
        for a in record.get("affected", [])
        if a["package"].get("ecosystem") == "Debian:12" and a["package"]["name"] == "openssl"
    ]


# Debian rates it low, NVD 7.5 (high): the record that tells --severity-source apart.
SQLITE_CVE = "CVE-2019-9937"


@pytest.fixture(scope="module")
def osv_records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """Every record of the export with a Debian 12 OpenSSL entry, and one SQLite record, as a
    directory feed; returns the directory and the OpenSSL records."""
    out = tmp_path_factory.mktemp("osv-openssl")
    kept = []
    with zipfile.ZipFile(OSV_ZIP) as z:
        (out / f"{SQLITE_CVE}.json").write_bytes(z.read(f"{SQLITE_CVE}.json"))
        for name in z.namelist():
            data = z.read(name)
            if b'"openssl"' not in data:
                continue
            record = json.loads(data)
            if _openssl_entries(record):
                (out / name).write_bytes(data)
                kept.append(record)
    assert len(kept) > 100
    return out, kept


@pytest.fixture(scope="module")
def advisory_db(
    osv_records: tuple[Path, list[dict]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("db") / "advisories.db"
    db.update([db.FeedSource.of("osv", str(osv_records[0]))], path)
    return path


def make_rootfs(root: Path, openssl_version: str, sqlite_version: str) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
    )
    (root / "etc/debian_version").write_text("12.2\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    stanzas = [
        ("libssl3", openssl_version, "amd64", "Source: openssl\n"),
        ("openssl", openssl_version, "amd64", ""),
        ("base-files", "12.4+deb12u2", "amd64", ""),
        ("libsqlite3-0", sqlite_version, "amd64", "Source: sqlite3\n"),
        ("tzdata", "2024a-0+deb12u1", "all", ""),
    ]
    (root / "var/lib/dpkg/status").write_text(
        "\n".join(
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Architecture: {arch}\n{source}Version: {version}\n"
            f"Maintainer: Debian <debian@lists.debian.org>\nDescription: {name}\n"
            for name, version, arch, source in stanzas
        )
    )
    return root


@pytest.fixture(scope="module")
def old_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # SQLite 3.27.2-1 predates SQLITE_CVE's fix (3.27.2-2).
    return make_rootfs(tmp_path_factory.mktemp("old") / "rootfs", OLD, "3.27.2-1")


@pytest.fixture(scope="module")
def new_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rootfs(tmp_path_factory.mktemp("new") / "rootfs", NEW, "3.40.1-2+deb12u1")


def zerocve(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zerocve", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


def scan_json(target: str | Path, advisory_db: Path, *extra: str | Path) -> dict:
    done = zerocve("scan", target, "--db", advisory_db, "-o", "json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def vex_document(statements: list[dict]) -> str:
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.invalid/image-triage",
            "author": "tests",
            "timestamp": "2025-02-12T00:00:00Z",
            "version": 1,
            "statements": statements,
        }
    )


def dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0


def expected_cves(records: list[dict], installed: str) -> dict[str, str]:
    """CVE → state, decided by dpkg itself from the raw OSV ranges: "fixed" when the fixed
    version sorts after the installed one; with no fix, "unimportant" when Debian's urgency
    says so, else "open"."""
    expected = {}
    for record in records:
        if not record["id"].startswith("CVE-"):
            continue
        for entry in _openssl_entries(record):
            events = [e for r in entry.get("ranges", []) for e in r["events"]]
            fixed = [e["fixed"] for e in events if "fixed" in e]
            urgency = (entry.get("ecosystem_specific") or {}).get("urgency")
            if not fixed:
                expected[record["id"]] = "unimportant" if urgency == "unimportant" else "open"
            elif dpkg_lt(installed, fixed[0]):
                expected[record["id"]] = "fixed"
    return expected


def test_findings_match_dpkgs_reading_of_the_osv_records(
    old_rootfs: Path, advisory_db: Path, osv_records: tuple[Path, list[dict]]
) -> None:
    doc = scan_json(old_rootfs, advisory_db)
    assert doc["distro"] == {"id": "debian", "versionId": "12", "codename": "bookworm"}
    assert doc["packages"] == 5
    expected = expected_cves(osv_records[1], OLD)
    assert "CVE-2024-0727" in expected and "CVE-2023-5363" not in expected  # fixed in OLD
    for package in ("libssl3", "openssl"):
        found = {
            f["vulnerability"]: f["state"]
            for f in doc["findings"]
            if f["package"]["name"] == package and f["vulnerability"].startswith("CVE-")
        }
        assert found == expected, package
    pkcs12 = next(f for f in doc["findings"] if f["vulnerability"] == "CVE-2024-0727")
    assert pkcs12["fixedVersion"] == "3.0.13-1~deb12u1"
    assert pkcs12["package"]["source"] == "openssl"
    assert pkcs12["cvss"][0]["vector"] == "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"


def test_table_and_exit_0_without_a_gate(old_rootfs: Path, advisory_db: Path) -> None:
    done = zerocve("scan", old_rootfs, "--db", advisory_db)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{old_rootfs} · debian 12 (bookworm) · 5 packages")
    assert lines[1].split()[:3] == ["NAME", "INSTALLED", "FIXED-IN"]
    # Fixable packages first; the summary line counts states.
    assert lines[2].split()[0] in ("libssl3", "openssl")
    assert lines[-1].startswith(("2", "3", "4")) and "fixed" in lines[-1]
    assert "\x1b[" not in done.stdout  # not a terminal: no colour codes


def test_gate_fixed_fails_with_the_worst_findings_named(
    old_rootfs: Path, advisory_db: Path
) -> None:
    done = zerocve("scan", old_rootfs, "--db", advisory_db, "-o", "json", "--fail-on", "fixed")
    assert done.returncode == 1
    json.loads(done.stdout)  # the report is still complete
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {old_rootfs}: ")
    assert "fixable vulnerabilities (" in line and f"libssl3 {OLD} → 3.0." in line


def test_gate_passes_when_only_unfixed_findings_remain(new_rootfs: Path, advisory_db: Path) -> None:
    doc = scan_json(new_rootfs, advisory_db)
    states = {f["state"] for f in doc["findings"]}
    assert states and "fixed" not in states
    assert zerocve("scan", new_rootfs, "--db", advisory_db, "--fail-on", "fixed").returncode == 0
    done = zerocve("scan", new_rootfs, "--db", advisory_db, "--fail-on", "open")
    assert done.returncode == 1 and "CVE-2024-13176" in done.stderr


def test_min_severity_and_severity_source_decide_the_gate(
    old_rootfs: Path, advisory_db: Path, tmp_path: Path
) -> None:
    findings = scan_json(old_rootfs, advisory_db)["findings"]
    # Take the unrated fixable findings out with VEX: unrated ones always count (fail closed).
    unrated = [f for f in findings if f["state"] == "fixed" and f["severity"] == "unknown"]
    assert unrated
    assert (
        zerocve(
            "scan",
            old_rootfs,
            "--db",
            advisory_db,
            "--fail-on",
            "fixed",
            "--min-severity",
            "critical",
        ).returncode
        == 1
    )
    vex_file = tmp_path / "unrated.vex.json"
    vex_file.write_text(
        vex_document(
            [
                {
                    "vulnerability": {"name": f["vulnerability"]},
                    "products": [{"@id": f["package"]["purl"]}],
                    "status": "not_affected",
                    "justification": "component_not_present",
                }
                for f in unrated
            ]
        )
    )
    rated = {
        (f["package"]["name"], f["severity"])
        for f in findings
        if f["state"] == "fixed" and f["severity"] != "unknown"
    }
    assert ("libsqlite3-0", "low") in rated and {s for _, s in rated} == {"low", "medium"}

    def gate(min_severity: str, *extra: str) -> int:
        return zerocve(
            "scan",
            old_rootfs,
            "--db",
            advisory_db,
            "--vex",
            vex_file,
            "--fail-on",
            "fixed",
            "--min-severity",
            min_severity,
            *extra,
        ).returncode

    assert gate("low") == 1
    assert gate("medium") == 1  # OpenSSL's CVSS-rated medium ones
    assert gate("high") == 0
    # Rated by CVSS, the SQLite finding Debian calls low is high (7.5).
    assert gate("high", "--severity-source", "cvss") == 1
    assert gate("critical", "--severity-source", "cvss") == 0


def test_severity_source_cvss(old_rootfs: Path, advisory_db: Path) -> None:
    debian = scan_json(old_rootfs, advisory_db)
    cvss = scan_json(old_rootfs, advisory_db, "--severity-source", "cvss")

    def pick(doc: dict) -> dict[tuple[str, str], str]:
        return {(f["vulnerability"], f["package"]["name"]): f["severity"] for f in doc["findings"]}

    # Debian's urgency wins by default, CVSS on request.
    assert pick(debian)[(SQLITE_CVE, "libsqlite3-0")] == "low"
    assert pick(cvss)[(SQLITE_CVE, "libsqlite3-0")] == "high"  # 7.5
    # OpenSSL's records carry no Debian urgency ("not yet assigned"): both fall back to CVSS.
    assert pick(debian)[("CVE-2024-0727", "libssl3")] == "medium"  # 5.5
    assert pick(cvss)[("CVE-2024-0727", "libssl3")] == "medium"
    sqlite = next(f for f in cvss["findings"] if f["vulnerability"] == SQLITE_CVE)
    assert sqlite["urgency"] == "low"  # shown beside the CVSS rating either way


@pytest.mark.parametrize(
    ("fmt", "schema"),
    [
        ("sarif", "sarif-schema-2.1.0.json"),
        ("cyclonedx", "bom-1.6.schema.json"),
        ("openvex", "openvex_json_schema-0.2.0.json"),
    ],
)
def test_formats_to_file_are_schema_valid(
    fmt: str, schema: str, old_rootfs: Path, advisory_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"report.{fmt}.json"
    done = zerocve("scan", old_rootfs, "--db", advisory_db, "-o", fmt, "--file", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"wrote {fmt} report to {out}" in done.stderr
    validate(json.loads(out.read_text()), schema)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp file left behind


def test_vex_suppresses_and_clears_the_gate(
    old_rootfs: Path, advisory_db: Path, tmp_path: Path
) -> None:
    fixable = [f for f in scan_json(old_rootfs, advisory_db)["findings"] if f["state"] == "fixed"]
    statements = [
        {
            "vulnerability": {"name": f["vulnerability"]},
            "products": [
                {"@id": f"pkg:deb/debian/{f['package']['name']}@{f['package']['version']}"}
            ],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path",
        }
        for f in fixable
    ]
    vex_file = tmp_path / "triage.vex.json"
    vex_file.write_text(vex_document(statements))
    doc = scan_json(old_rootfs, advisory_db, "--vex", vex_file)
    assert "fixed" not in {f["state"] for f in doc["findings"]}
    assert len(doc["suppressed"]) == len(fixable)
    assert doc["suppressed"][0]["vex"]["statement"].startswith(f"{vex_file}: statements[")
    args = ("scan", old_rootfs, "--db", advisory_db, "--vex", vex_file)
    assert zerocve(*args, "--fail-on", "fixed").returncode == 0
    table = zerocve(*args, "--show-suppressed").stdout
    assert "Suppressed by VEX" in table and "vulnerable_code_not_in_execute_path" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "yaml"), "Invalid value for '--output'"),
        (("--min-severity", "high"), "error: --min-severity applies to the gate"),
        (("--fail-on", "sometimes"), "Invalid value for '--fail-on'"),
        (("--vex", "/nonexistent/triage.json"), "does not exist"),
    ],
)
def test_usage_errors_exit_2(
    args: tuple[str, ...], message: str, old_rootfs: Path, advisory_db: Path
) -> None:
    done = zerocve("scan", old_rootfs, "--db", advisory_db, *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


def test_unknown_target_exits_2(advisory_db: Path, tmp_path: Path) -> None:
    done = zerocve("scan", tmp_path / "nothing-here", "--db", advisory_db)
    assert done.returncode == 2
    assert "nothing-here" in done.stderr


def test_operational_failures_exit_3(old_rootfs: Path, advisory_db: Path, tmp_path: Path) -> None:
    no_db = zerocve("scan", old_rootfs, "--db", tmp_path / "missing.db")
    assert no_db.returncode == 3
    assert no_db.stderr.strip().splitlines() == [
        f"error: no advisory DB at {tmp_path / 'missing.db'}: run `zerocve db update "
        "--osv PATH|URL` first"
    ]

    bad = tmp_path / "bad.vex.json"
    bad.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "timestamp": "2025-02-12T00:00:00Z",
                "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "wontfix"}],
            }
        )
    )
    done = zerocve("scan", old_rootfs, "--db", advisory_db, "--vex", bad)
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {bad}: statements[0]: status 'wontfix' is not one of")

    empty = tmp_path / "empty-rootfs"
    (empty / "etc").mkdir(parents=True)
    done = zerocve("scan", f"dir:{empty}", "--db", advisory_db)
    assert done.returncode == 3
    assert "no dpkg database" in done.stderr


def test_unwritable_output_exits_3_and_leaves_nothing(
    old_rootfs: Path, advisory_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "missing-dir" / "report.json"
    done = zerocve("scan", old_rootfs, "--db", advisory_db, "-o", "json", "--file", out)
    assert done.returncode == 3
    assert f"error: {out}: cannot write" in done.stderr
    assert not out.parent.exists()


def test_previous_report_survives_a_failed_scan(
    old_rootfs: Path, advisory_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    assert (
        zerocve("scan", old_rootfs, "--db", advisory_db, "-o", "json", "--file", out).returncode
        == 0
    )
    before = out.read_text()
    done = zerocve("scan", old_rootfs, "--db", tmp_path / "gone.db", "-o", "json", "--file", out)
    assert done.returncode == 3
    assert out.read_text() == before


def test_help_documents_exit_codes_and_gate() -> None:
    done = zerocve("scan", "--help")
    assert done.returncode == 0
    for text in (
        "Exit codes",
        "findings over the gate",
        "usage error",
        "operational failure",
        "fix-unavailable",
        "--min-severity",
        "docker://",
    ):
        assert text in done.stdout, text


@pytest.fixture(scope="module")
def old_image(old_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The old root filesystem as a real OCI image layout (packed by umoci); returns the
    target and its manifest digest."""
    work = tmp_path_factory.mktemp("image")
    layout = work / "layout"
    bundle = work / "bundle"

    def umoci(*args: str | Path) -> None:
        subprocess.run(["umoci", *map(str, args)], check=True, capture_output=True)

    umoci("init", "--layout", layout)
    umoci("new", "--image", f"{layout}:latest")
    umoci("unpack", "--image", f"{layout}:latest", bundle)
    subprocess.run(["cp", "-a", f"{old_rootfs}/.", str(bundle / "rootfs")], check=True)
    umoci("repack", "--image", f"{layout}:latest", bundle)
    (manifest,) = json.loads((layout / "index.json").read_text())["manifests"]
    return f"oci:{layout}:latest", manifest["digest"]


def test_image_vex_by_digest_and_subcomponent(
    old_image: tuple[str, str], advisory_db: Path, tmp_path: Path
) -> None:
    target, digest = old_image
    doc = scan_json(target, advisory_db)
    assert doc["image"]["digest"] == digest
    assert doc["image"]["purl"].startswith(f"pkg:oci/layout@{digest}")
    cves = sorted(
        f["vulnerability"]
        for f in doc["findings"]
        if f["state"] == "fixed" and f["package"]["name"] == "libssl3"
    )
    vex_file = tmp_path / "image.vex.json"
    vex_file.write_text(
        vex_document(
            [
                {
                    "vulnerability": {"name": cve},
                    # Another name for the image: the digest is what identifies it.
                    "products": [
                        {
                            "@id": f"pkg:oci/python@{digest}",
                            "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}],
                        }
                    ],
                    "status": "not_affected",
                    "impact_statement": "the image never loads libssl3's PKCS12 code",
                }
                for cve in cves
            ]
        )
    )
    triaged = scan_json(target, advisory_db, "--vex", vex_file)
    assert {s["package"]["name"] for s in triaged["suppressed"]} == {"libssl3"}
    assert len(triaged["suppressed"]) == len(cves)
    still_fixable = {f["package"]["name"] for f in triaged["findings"] if f["state"] == "fixed"}
    assert still_fixable == {"openssl", "libsqlite3-0"}


def test_image_openvex_round_trip(
    old_image: tuple[str, str], advisory_db: Path, tmp_path: Path
) -> None:
    """`-o openvex` names the image by digest with its packages as subcomponents; the same
    document, triaged (statuses flipped to not_affected), clears the gate."""
    target, digest = old_image
    out = tmp_path / "image.vex.json"
    done = zerocve("scan", target, "--db", advisory_db, "-o", "openvex", "--file", out)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    validate(document, "openvex_json_schema-0.2.0.json")
    for statement in document["statements"]:
        (product,) = statement["products"]
        assert product["@id"].startswith(f"pkg:oci/layout@{digest}")
        assert {s["@id"].split("@")[0] for s in product["subcomponents"]} <= {
            "pkg:deb/debian/libsqlite3-0",
            "pkg:deb/debian/libssl3",
            "pkg:deb/debian/openssl",
        }
        statement["status"] = "not_affected"
        statement["justification"] = "vulnerable_code_not_in_execute_path"
        del statement["action_statement"]
    out.write_text(json.dumps(document))
    gated = zerocve("scan", target, "--db", advisory_db, "--vex", out, "--fail-on", "any")
    assert gated.returncode == 0, gated.stderr
    assert gated.stdout.splitlines()[-1].startswith("0 findings; 25 suppressed by VEX")


def test_junk_stanza_refuses_the_scan(advisory_db: Path, tmp_path: Path) -> None:
    # Skipping it could hide a package: a status file dpkg refuses is refused (exit 3).
    root = make_rootfs(tmp_path / "rootfs", OLD, "3.40.1-2+deb12u1")
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text() + "\nPackage: [broken]\nVersion: ???\n")
    done = zerocve("scan", root, "--db", advisory_db, "-o", "json")
    assert done.returncode == 3, done.stderr
    assert "/var/lib/dpkg/status: package '[broken]'" in done.stderr
    assert done.stdout == ""


# What a local scan has no use for: the registry and repository clients (httpx), the fleet's
# store (SQLAlchemy), the image builder, signing, YAML, rich (JSON into a pipe prints nothing
# through it), pydantic (typer's conversion of parameters is replaced: cli/_params.py) and
# every other command.
NOT_FOR_A_SCAN = (
    "httpx", "pydantic", "sqlalchemy", "yaml", "rich", "zerocve.assemble", "zerocve.fleet",
    "zerocve.sign", "zerocve.lock", "zerocve.spec", "zerocve.debian.repo", "zerocve.oci.registry",
    "zerocve.vuln.feeds.osv", "zerocve.vuln.feeds.debian_tracker", "zerocve.vuln.formats.table",
    "zerocve.vuln.formats.sarif", "zerocve.vuln.formats.cyclonedx", "zerocve.sbom",
)


def imported_modules(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reports as imported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line and "imported package" not in line
    }


def test_a_local_scan_imports_only_what_it_uses(old_rootfs: Path, advisory_db: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "zerocve", "-q", "scan", f"dir:{old_rootfs}",
         "-o", "json", "--db", str(advisory_db)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["findings"]  # a real scan ran
    modules = imported_modules(done.stderr)
    assert "zerocve.cli.scan_cmd" in modules and "sqlite3" in modules
    loaded = sorted(m for m in modules if m.startswith(NOT_FOR_A_SCAN)
                    or (m.startswith("zerocve.cli.") and m.endswith("_cmd")
                        and m != "zerocve.cli.scan_cmd"))
    assert not loaded, loaded


def test_a_scan_reads_no_copyright_file(advisory_db: Path, tmp_path: Path) -> None:
    """Licences come from copyright files and only SBOMs show them: a scan leaves them unread.
    A copyright file larger than zerocve reads from an image (sparse: no disk used) is refused
    where it is read, so the SBOM of the same tree fails on it while the scan does not."""
    rootfs = make_rootfs(tmp_path / "rootfs", OLD, "3.27.2-1")
    doc = rootfs / "usr/share/doc/libssl3"
    doc.mkdir(parents=True)
    with (doc / "copyright").open("wb") as f:
        f.truncate(65 << 20)
    report = scan_json(f"dir:{rootfs}", advisory_db)
    assert report["packages"] == 5 and report["findings"]
    sbom = zerocve("sbom", f"dir:{rootfs}")
    assert sbom.returncode == 3
    assert "usr/share/doc/libssl3/copyright" in sbom.stderr and "refused" in sbom.stderr
