"""OpenVEX: which statements suppress which findings, and one-line errors for bad documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.findings import DIGEST, LIBSSL, OPENSSL, ZLIB, finding, inventory, pkg
from zerocve.errors import VexError
from zerocve.inventory.purls import image_purl
from zerocve.vuln import vex
from zerocve.vuln.model import State

LIBSSL_PURL = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
IMAGE_PURL = f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/zerocve/python"


def doc(*statements: dict[str, Any], timestamp: str = "2025-01-01T00:00:00Z") -> str:
    return json.dumps(
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.invalid/vex-1",
            "author": "tests",
            "timestamp": timestamp,
            "version": 1,
            "statements": list(statements),
        }
    )


def stmt(
    products: list[Any],
    name: str = "CVE-2024-0727",
    status: str = "not_affected",
    **extra: Any,
) -> dict[str, Any]:
    s: dict[str, Any] = {"vulnerability": {"name": name}, "products": products, "status": status}
    if status == "not_affected" and "impact_statement" not in extra:
        s["justification"] = "vulnerable_code_not_in_execute_path"
    return {**s, **extra}


def run(
    text: str, findings: list[Any] | None = None, **inv: Any
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    findings = findings or [finding("CVE-2024-0727", LIBSSL), finding("CVE-2024-0727", OPENSSL)]
    return vex.apply(findings, vex.parse(text, "vex.json"), inventory(**inv))


IMAGE = {"image_digest": DIGEST, "image_name": "127.0.0.1:5000/zerocve/python:3.11"}


def test_package_purl_suppresses_only_that_package() -> None:
    kept, suppressed = run(doc(stmt([{"@id": LIBSSL_PURL}])))
    assert [f.package.name for f in kept] == ["openssl"]
    (s,) = suppressed
    assert s.finding.package == LIBSSL
    assert (s.status, s.justification) == ("not_affected", "vulnerable_code_not_in_execute_path")
    assert s.statement_source == "vex.json: statements[0]"


@pytest.mark.parametrize(
    ("purl", "hit"),
    [
        ("pkg:deb/debian/libssl3", True),  # no version: every version
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2", True),  # qualifiers left out match all
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64", True),
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=arm64", False),
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-11", False),
        ("pkg:deb/debian/libssl3@3.0.13-1~deb12u1", False),  # another version
        ("pkg:deb/ubuntu/libssl3", False),  # another namespace
        ("pkg:deb/debian/libssl", False),  # names match exactly, not as prefixes
        ("pkg:rpm/debian/libssl3", False),
    ],
)
def test_package_purl_matching(purl: str, hit: bool) -> None:
    _, suppressed = run(doc(stmt([{"@id": purl}])))
    assert [s.finding.package.name for s in suppressed] == (["libssl3"] if hit else [])


def test_identifiers_purl_is_used_when_at_id_is_not_a_purl() -> None:
    product = {"@id": "https://example.invalid/p/1", "identifiers": {"purl": LIBSSL_PURL}}
    _, suppressed = run(doc(stmt([product])))
    assert len(suppressed) == 1


def test_epoch_versions_match_whether_or_not_the_colon_is_encoded() -> None:
    findings = [finding("CVE-2023-45853", ZLIB)]
    for version in ("1:1.2.13.dfsg-1", "1%3A1.2.13.dfsg-1"):
        text = doc(stmt([{"@id": f"pkg:deb/debian/zlib1g@{version}"}], name="CVE-2023-45853"))
        _, suppressed = run(text, findings)
        assert len(suppressed) == 1, version


def test_image_purl_with_subcomponent() -> None:
    product = {"@id": IMAGE_PURL, "subcomponents": [{"@id": "pkg:deb/debian/openssl"}]}
    kept, suppressed = run(doc(stmt([product])), **IMAGE)
    assert [s.finding.package.name for s in suppressed] == ["openssl"]
    assert [f.package.name for f in kept] == ["libssl3"]


def test_image_purl_without_subcomponents_covers_every_package() -> None:
    kept, suppressed = run(doc(stmt([{"@id": f"pkg:oci/python@{DIGEST}"}])), **IMAGE)
    assert kept == () and len(suppressed) == 2


@pytest.mark.parametrize(
    ("image", "hit"),
    [
        (f"pkg:oci/python@{DIGEST}", True),
        (f"pkg:oci/other-name@{DIGEST}", True),  # the digest is the identity
        ("pkg:oci/python", True),  # no digest: by name, any digest
        ("pkg:oci/python@sha256:" + "00" * 32, False),
        ("pkg:oci/node", False),
        (f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/zerocve/python", True),
        (f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/other/python", False),
    ],
)
def test_image_purl_matching(image: str, hit: bool) -> None:
    product = {"@id": image, "subcomponents": [{"@id": LIBSSL_PURL}]}
    _, suppressed = run(doc(stmt([product])), **IMAGE)
    assert len(suppressed) == (1 if hit else 0)


def test_image_statement_does_not_apply_to_a_root_filesystem() -> None:
    product = {"@id": f"pkg:oci/python@{DIGEST}", "subcomponents": [{"@id": LIBSSL_PURL}]}
    _, suppressed = run(doc(stmt([product])))  # no digest, no name: not an image
    assert suppressed == ()


def test_layout_with_digest_but_no_name_matches_by_digest() -> None:
    product = {"@id": f"pkg:oci/python@{DIGEST}", "subcomponents": [{"@id": LIBSSL_PURL}]}
    _, suppressed = run(doc(stmt([product])), image_digest=DIGEST, target="out/python")
    assert len(suppressed) == 1


def test_aliases_match_both_ways() -> None:
    by_statement_alias = stmt([{"@id": LIBSSL_PURL}], name="DSA-5621-1", aliases=[])
    by_statement_alias["vulnerability"]["aliases"] = ["cve-2024-0727"]  # case does not matter
    _, suppressed = run(doc(by_statement_alias))
    assert len(suppressed) == 1
    # The finding's own alias (a DSA naming the fix) matches the statement's name.
    findings = [finding("CVE-2024-0727", LIBSSL, aliases=("DSA-5621-1",))]
    _, suppressed = run(doc(stmt([{"@id": LIBSSL_PURL}], name="DSA-5621-1")), findings)
    assert len(suppressed) == 1
    _, suppressed = run(doc(stmt([{"@id": LIBSSL_PURL}], name="CVE-2024-0001")))
    assert suppressed == ()


def test_latest_statement_wins() -> None:
    older = stmt([{"@id": LIBSSL_PURL}], timestamp="2025-01-01T00:00:00Z")
    newer = stmt(
        [{"@id": LIBSSL_PURL}],
        status="affected",
        action_statement="upgrade",
        timestamp="2025-01-02T00:00:00+00:00",
    )
    # Order in the file does not matter, time does.
    for statements in ((older, newer), (newer, older)):
        kept, suppressed = run(doc(*statements))
        assert suppressed == () and len(kept) == 2
    reinstated = stmt([{"@id": LIBSSL_PURL}], timestamp="2025-01-03T00:00:00+01:00")
    _, suppressed = run(doc(older, newer, reinstated))
    assert [s.statement_source for s in suppressed] == ["vex.json: statements[2]"]


def test_statement_without_timestamp_takes_the_documents_and_ties_go_to_the_last_read(
    tmp_path: Path,
) -> None:
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    first.write_text(doc(stmt([{"@id": LIBSSL_PURL}])))
    second.write_text(doc(stmt([{"@id": LIBSSL_PURL}], status="under_investigation")))
    statements = vex.load([first, second])
    kept, suppressed = vex.apply([finding("CVE-2024-0727", LIBSSL)], statements, inventory())
    assert suppressed == () and len(kept) == 1
    statements = vex.load([second, first])
    _, suppressed = vex.apply([finding("CVE-2024-0727", LIBSSL)], statements, inventory())
    assert [s.statement_source for s in suppressed] == [f"{first}: statements[0]"]


def test_fixed_status_suppresses_and_impact_statement_is_kept() -> None:
    text = doc(
        stmt([{"@id": LIBSSL_PURL}], status="fixed"),
        stmt([{"@id": "pkg:deb/debian/openssl"}], impact_statement="not built with PKCS12"),
    )
    _, suppressed = run(text)
    by_name = {s.finding.package.name: s for s in suppressed}
    assert by_name["libssl3"].status == "fixed"
    assert by_name["openssl"].impact_statement == "not built with PKCS12"
    assert by_name["openssl"].justification == ""


def test_state_of_a_finding_is_untouched_by_vex() -> None:
    findings = [finding("CVE-2024-0727", LIBSSL, State.NO_DSA)]
    _, (s,) = run(doc(stmt([{"@id": LIBSSL_PURL}])), findings)
    assert s.finding == findings[0]


def test_no_distro_means_the_statement_qualifier_cannot_match() -> None:
    text = doc(stmt([{"@id": "pkg:deb/debian/libssl3?distro=debian-12"}]))
    _, suppressed = run(text, distro=None)
    assert suppressed == ()


def test_other_arch_package_with_same_name() -> None:
    i386 = pkg("libssl3", "3.0.11-1~deb12u2", arch="i386", source="openssl")
    findings = [finding("CVE-2024-0727", LIBSSL), finding("CVE-2024-0727", i386)]
    _, suppressed = run(doc(stmt([{"@id": LIBSSL_PURL}])), findings)
    assert [s.finding.package.architecture for s in suppressed] == ["amd64"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "vex.json:1:2: invalid JSON"),
        ("[]", "vex.json: not an OpenVEX document"),
        ('{"@context": "https://cyclonedx.org"}', "vex.json: not an OpenVEX document (@context"),
        (doc().replace('"2025-01-01T00:00:00Z"', "null"), "vex.json: timestamp is missing"),
        (doc(timestamp="yesterday"), "vex.json: timestamp: 'yesterday' is not an RFC 3339"),
        (
            doc(stmt([{"@id": LIBSSL_PURL}], status="safe")),
            "vex.json: statements[0]: status 'safe' is not one of",
        ),
        (
            doc(
                stmt([{"@id": LIBSSL_PURL}]), stmt([{"@id": LIBSSL_PURL}], justification="trust me")
            ),
            "vex.json: statements[1]: justification 'trust me' is not one of",
        ),
        (
            doc(stmt([{"@id": LIBSSL_PURL}]), {"status": "fixed", "products": []}),
            "vex.json: statements[1]: vulnerability.name is missing",
        ),
        (
            doc(
                {
                    "vulnerability": {"name": "CVE-1"},
                    "status": "not_affected",
                    "products": [{"@id": LIBSSL_PURL}],
                }
            ),
            "vex.json: statements[0]: a not_affected statement needs a justification",
        ),
        (doc(stmt([])), "vex.json: statements[0]: products must be a non-empty list"),
        (doc(stmt([{"@id": "pkg:"}])), "vex.json: statements[0]: products[0]: invalid purl"),
        (
            doc(stmt([{"@id": IMAGE_PURL, "subcomponents": [{"@id": "pkg:deb"}]}])),
            "vex.json: statements[0]: products[0].subcomponents[0]: invalid purl",
        ),
        (
            doc(stmt([{"@id": LIBSSL_PURL}], timestamp="soon")),
            "vex.json: statements[0]: timestamp: 'soon' is not an RFC 3339",
        ),
        (doc(stmt([{}])), "vex.json: statements[0]: products[0]: needs an @id or identifiers"),
    ],
)
def test_malformed_vex_is_one_line_naming_file_and_statement(text: str, message: str) -> None:
    with pytest.raises(VexError) as raised:
        vex.parse(text, "vex.json")
    line = raised.value.diagnostics()
    assert line.startswith(message), line
    assert "\n" not in line


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(VexError, match=r"missing\.json: cannot read VEX document"):
        vex.load([tmp_path / "missing.json"])


def test_no_statements_keeps_every_finding() -> None:
    findings = [finding("CVE-2024-0727", LIBSSL)]
    assert vex.apply(findings, [], inventory()) == (tuple(findings), ())


@pytest.mark.parametrize(
    ("target", "name", "purl"),
    [
        (
            "x",
            "127.0.0.1:5000/zerocve/python:3.11",
            f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/zerocve/python",
        ),
        (
            "x",
            f"127.0.0.1:5000/Python@{DIGEST}",
            f"pkg:oci/python@{DIGEST}?repository_url=127.0.0.1:5000/Python",
        ),
        ("oci:out/python:3.11", None, f"pkg:oci/python@{DIGEST}"),
        ("out/python/", None, f"pkg:oci/python@{DIGEST}"),
        ("oci-archive:/tmp/app.tar", None, f"pkg:oci/app.tar@{DIGEST}"),
    ],
)
def test_image_purl_of_an_inventory(target: str, name: str | None, purl: str) -> None:
    inv = inventory(target=target, image_name=name, image_digest=DIGEST)
    assert image_purl(inv) == purl


def test_a_root_filesystem_has_no_image_purl() -> None:
    assert image_purl(inventory(target="dir:/srv/rootfs")) is None
