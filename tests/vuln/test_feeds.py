"""The feed readers on real OSV records (from the shared zip) and the tracker fixture."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.data import OSV_ZIP
from zerocve.errors import AdvisoryError
from zerocve.progress import Reporter, Task
from zerocve.vuln.feeds.debian_tracker import DebianTrackerFeed
from zerocve.vuln.feeds.interface import Affected
from zerocve.vuln.feeds.osv import OsvFeed, parse_record

REAL_ZIP = OSV_ZIP
TRACKER = Path(__file__).parent / "data" / "tracker-bookworm.json"


def real_record(record_id: str) -> dict:
    with zipfile.ZipFile(REAL_ZIP) as z:
        return json.loads(z.read(f"{record_id}.json"))


def test_real_cve_record_keeps_debian_releases_ranges_urgency_cvss_and_advisory_aliases():
    adv = parse_record(json.dumps(real_record("CVE-2024-0727")), "CVE-2024-0727.json")
    assert adv is not None and adv.id == "CVE-2024-0727"
    bookworm = [a for a in adv.affected if a.release == "bookworm"]
    assert bookworm == [
        Affected(
            release="bookworm",
            package="openssl",
            introduced=None,
            fixed="3.0.13-1~deb12u1",
            urgency="not yet assigned",
        )
    ]
    assert {a.release for a in adv.affected} >= {"bullseye", "bookworm", "trixie"}
    (cvss,) = adv.cvss
    assert (cvss.version, cvss.score) == ("3.1", 5.5)
    # related lists SUSE/RHSA/USN fixes too: only Debian's own advisories become aliases
    assert "DLA-3942-1" in adv.aliases
    assert not [a for a in adv.aliases if a.startswith(("SUSE", "RHSA", "USN", "openSUSE"))]
    assert "Processing a maliciously formatted PKCS12" in adv.description


def test_real_dsa_record_lists_its_cves_as_aliases():
    adv = parse_record(json.dumps(real_record("DSA-5418-1")), "DSA-5418-1.json")
    assert adv is not None
    assert "CVE-2023-2929" in adv.aliases and len(adv.aliases) == 14
    assert {(a.release, a.package, a.fixed) for a in adv.affected} >= {
        ("bookworm", "chromium", "114.0.5735.90-2~deb12u1")
    }


def test_unfixed_range_and_multiple_intervals():
    record = {
        "id": "CVE-2099-0001",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "foo"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": "1.0-2"},
                            {"introduced": "2.0-1"},
                        ],
                    }
                ],
                "ecosystem_specific": {"urgency": "unimportant"},
            },
            {"package": {"ecosystem": "PyPI", "name": "foo"}, "ranges": []},
            {"package": {"ecosystem": "Debian:42", "name": "foo"}, "ranges": []},
        ],
    }
    adv = parse_record(json.dumps(record), "x")
    assert adv is not None
    assert [(a.release, a.introduced, a.fixed, a.urgency) for a in adv.affected] == [
        ("bookworm", None, "1.0-2", "unimportant"),
        ("bookworm", "2.0-1", None, "unimportant"),
    ]


def test_withdrawn_or_non_debian_records_yield_nothing():
    base = {"id": "CVE-2099-0002", "affected": [{"package": {"ecosystem": "npm", "name": "x"}}]}
    assert parse_record(json.dumps(base), "x") is None
    withdrawn = real_record("CVE-2024-0727") | {"withdrawn": "2024-05-01T00:00:00Z"}
    assert parse_record(json.dumps(withdrawn), "x") is None


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (b"{not json", r"^x\.json: not a valid OSV record: Invalid JSON"),
        (b'{"affected": []}', r"^x\.json: not a valid OSV record: id: Field required"),
        (
            b'{"id": "CVE-1", "affected": [{"package": {"ecosystem": "Debian:12"}}]}',
            r"^x\.json: record CVE-1: not a valid OSV record: affected\.0\.package\.name: Field",
        ),
        (
            b'{"id": "CVE-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"},'
            b' "ranges": [{"type": "ECOSYSTEM", "events": "0"}]}]}',
            r"affected\.0\.ranges\.0\.events: Input should be a valid array",
        ),
        (
            b'{"id": "CVE-1", "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}],'
            b' "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"},'
            b' "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}',
            r"record CVE-1: severity: CVSS vector .* invalid metric",
        ),
        (
            b'{"id": "CVE-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"},'
            b' "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},'
            b' {"fixed": "x:1.0-1"}]}]}]}',
            r"record CVE-1: a: invalid version 'x:1\.0-1': epoch is not a number",
        ),
    ],
)
def test_schema_breaking_records_are_one_line_errors_naming_the_file(document, expected):
    with pytest.raises(AdvisoryError, match=expected) as info:
        parse_record(document, "x.json")
    assert "\n" not in str(info.value)


def _subset_zip(path: Path, ids: list[str]) -> Path:
    with zipfile.ZipFile(REAL_ZIP) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for rid in ids:
            z.writestr(f"{rid}.json", src.read(f"{rid}.json"))
    return path


def test_zip_directory_and_single_file_give_the_same_records(tmp_path):
    ids = ["CVE-2024-0727", "CVE-2023-45853", "DSA-5418-1"]
    archive = _subset_zip(tmp_path / "osv.zip", ids)
    directory = tmp_path / "dir"
    (directory / "nested").mkdir(parents=True)
    with zipfile.ZipFile(archive) as z:
        for i, rid in enumerate(ids):
            target = directory / ("nested" if i else "") / f"{rid}.json"
            target.write_bytes(z.read(f"{rid}.json"))
    feed = OsvFeed()
    from_zip = sorted(feed.records(archive), key=lambda a: a.id)
    from_dir = sorted(feed.records(directory), key=lambda a: a.id)
    assert [a.id for a in from_zip] == sorted(ids)
    assert from_zip == from_dir
    single = list(feed.records(directory / "CVE-2024-0727.json"))
    assert single == [a for a in from_zip if a.id == "CVE-2024-0727"]
    # the fingerprint is a content hash: same bytes, same fingerprint; one byte more, another
    assert feed.fingerprint(directory) == feed.fingerprint(directory)
    before = feed.fingerprint(directory)
    (directory / "nested" / "CVE-2023-45853.json").write_bytes(
        (directory / "nested" / "CVE-2023-45853.json").read_bytes() + b" "
    )
    assert feed.fingerprint(directory) != before


def test_truncated_zip_is_one_line_naming_the_file(tmp_path):
    archive = _subset_zip(tmp_path / "osv.zip", ["CVE-2024-0727", "CVE-2023-45853"])
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(AdvisoryError, match=r"osv\.zip: not an OSV zip, directory or \.json"):
        list(OsvFeed().records(archive))


def test_corrupt_member_names_the_member(tmp_path):
    archive = _subset_zip(tmp_path / "osv.zip", ["CVE-2024-0727"])
    data = bytearray(archive.read_bytes())
    # flip bytes inside the deflated data of the only member (after its 30-byte local
    # header and name): the central directory stays intact, the CRC check fails
    start = 30 + len("CVE-2024-0727.json") + 20
    data[start : start + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    with pytest.raises(AdvisoryError, match=r"osv\.zip: CVE-2024-0727\.json: corrupt zip member"):
        list(OsvFeed().records(archive))


def test_junk_json_member_names_the_member(tmp_path):
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("CVE-2024-0001.json", "<html>rate limited</html>")
    with pytest.raises(AdvisoryError, match=r"CVE-2024-0001\.json: not a valid OSV record"):
        list(OsvFeed().records(archive))


def test_tracker_fixture_rows():
    advisories = {
        (a.affected[0].package if a.affected else "", a.id): a
        for a in DebianTrackerFeed().records(TRACKER)
    }
    openssl = advisories[("openssl", "CVE-2024-0727")]
    assert {a.release for a in openssl.affected} == {"bookworm", "bullseye", "trixie"}
    bookworm = next(a for a in openssl.affected if a.release == "bookworm")
    assert bookworm.status == "resolved" and bookworm.fixed == "3.0.13-1~deb12u1"
    assert bookworm.repositories == (
        ("bookworm", "3.0.15-1~deb12u1"),
        ("bookworm-security", "3.0.15-1~deb12u1"),
    )
    zlib = advisories[("zlib", "CVE-2023-45853")].affected[0]
    assert (zlib.status, zlib.fixed, zlib.nodsa_reason) == ("open", None, "ignored")
    assert zlib.nodsa.startswith("contrib/minizip not built")
    undetermined = advisories[("glibc", "CVE-2023-4527")].affected[0]
    assert (undetermined.status, undetermined.fixed) == ("undetermined", None)
    assert advisories[("openssl", "CVE-2022-2274")].affected[0].fixed == "0"
    assert advisories[("openssl", "CVE-2024-0727")].description.startswith("Processing")


def test_tracker_gzip_copy_reads_the_same(tmp_path):
    packed = tmp_path / "json.gz"
    packed.write_bytes(gzip.compress(TRACKER.read_bytes()))
    assert list(DebianTrackerFeed().records(packed)) == list(DebianTrackerFeed().records(TRACKER))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"openssl": [1, 2]}', r"openssl: Input should be a valid dictionary"),
        (
            '{"curl": {"CVE-1": {"releases": {"bookworm": {"urgency": "low"}}}}}',
            r"curl → CVE-1 → releases → bookworm → status: Field required",
        ),
        (
            '{"curl": {"CVE-1": {"releases": {"bookworm": {"status": "fixed"}}}}}',
            r"curl → CVE-1 → releases → bookworm: unknown status 'fixed'",
        ),
        ('{"curl": {"CVE-1": ', r"invalid JSON at line 1 column 20: Expecting value"),
        (
            '{"curl": {"CVE-1": {"releases": {"bookworm": {"status": "resolved",'
            ' "fixed_version": "-1"}}}}}',
            r"curl → CVE-1 → releases → bookworm → fixed_version: invalid version '-1'",
        ),
        ('[{"curl": {}}]', r"expected an object of source packages"),
        ('{"curl": {}} trailing', r"trailing data after the object at offset 12"),
        ('{"curl": {} "zlib": {}}', r"expected ',' or '}' at offset 12"),
    ],
)
def test_tracker_malformed_input_names_file_and_path(tmp_path, document, expected):
    path = tmp_path / "tracker.json"
    path.write_text(document)
    with pytest.raises(AdvisoryError, match=rf"tracker\.json: .*{expected}"):
        list(DebianTrackerFeed().records(path))


def test_tracker_null_fields_as_the_export_writes_them(tmp_path):
    """The export writes null for an unset urgency / nodsa (and omits fixed_version when
    open); a resolved entry without a version establishes nothing."""
    path = tmp_path / "tracker.json"
    path.write_text(
        json.dumps(
            {
                "zlib": {
                    "CVE-2023-45853": {
                        "description": None,
                        "scope": "local",
                        "debianbug": None,
                        "releases": {
                            "buster": {
                                "status": "open",
                                "repositories": {"buster": "1:1.2.11.dfsg-1+deb10u1"},
                                "urgency": None,
                                "nodsa": None,
                                "nodsa_reason": None,
                            },
                            "sid": {"status": "resolved", "repositories": {}, "urgency": None},
                        },
                    }
                }
            }
        )
    )
    (advisory,) = DebianTrackerFeed().records(path)
    assert advisory.description == ""
    assert advisory.affected == (
        Affected(
            release="buster",
            package="zlib",
            status="open",
            repositories=(("buster", "1:1.2.11.dfsg-1+deb10u1"),),
        ),
    )


class _Recorder(Reporter):
    """Records each task's total and how far it was advanced."""

    def __init__(self) -> None:
        self.tasks: list[list] = []

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        entry = [description, total, 0]
        self.tasks.append(entry)

        class _T(Task):
            def advance(self, amount: float = 1) -> None:
                entry[2] += amount

        yield _T()


def test_ingestion_reports_progress_to_completion(tmp_path):
    archive = _subset_zip(tmp_path / "osv.zip", ["CVE-2024-0727", "DSA-5418-1"])
    for feed, source in ((OsvFeed(), archive), (DebianTrackerFeed(), TRACKER)):
        recorder = _Recorder()
        assert list(feed.records(source, recorder))
        ((description, total, done),) = recorder.tasks
        assert source.name in description and total and done == total
