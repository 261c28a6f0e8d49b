"""Every machine-readable report validates against its official schema, offline:
SARIF 2.1.0 (OASIS), CycloneDX 1.6 (with its SPDX and JSF sub-schemas) and OpenVEX 0.2.0."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import jsonschema
import pytest

from support.findings import DIGEST, LIBSSL, finding, inventory, sample_result
from support.schemas import validate
from zerocve.vuln.formats import OutputFormat, RenderOptions, renderer
from zerocve.vuln.model import ScanResult, State, Suppression

OPTIONS = RenderOptions(timestamp=datetime(2025, 2, 12, tzinfo=UTC))
SCHEMA = {
    OutputFormat.SARIF: "sarif-schema-2.1.0.json",
    OutputFormat.CYCLONEDX: "bom-1.6.schema.json",
    OutputFormat.OPENVEX: "openvex_json_schema-0.2.0.json",
}


def suppressed_variants(result: ScanResult) -> ScanResult:
    """Suppressions of every shape: justification only, impact only, both, and 'fixed'."""
    f = result.findings
    return dataclasses.replace(
        result,
        findings=f[4:],
        suppressed=(
            Suppression(f[0], "not_affected", "component_not_present", "a.json: statements[0]"),
            Suppression(f[1], "not_affected", "", "a.json: statements[1]", "not built"),
            Suppression(
                f[2],
                "not_affected",
                "inline_mitigations_already_exist",
                "b.json: statements[0]",
                "hardened",
            ),
            Suppression(f[3], "fixed", "", "b.json: statements[1]"),
        ),
    )


IMAGE = {"image_digest": DIGEST, "image_name": "127.0.0.1:5000/zerocve/python:3.11"}
CASES = {
    "rootfs": sample_result(),
    "image": sample_result(**IMAGE),
    "suppressed": suppressed_variants(sample_result(**IMAGE)),
    "suppressed-rootfs": suppressed_variants(sample_result()),
    "no-distro": ScanResult(
        inventory=inventory(distro=None), findings=(finding("CVE-2024-0727", LIBSSL),)
    ),
    "clean": ScanResult(inventory=inventory(), findings=()),
}
FORMATS = (OutputFormat.SARIF, OutputFormat.CYCLONEDX, OutputFormat.OPENVEX)


@pytest.mark.parametrize(
    ("fmt", "case"),
    # A clean scan has no OpenVEX statement, which that schema forbids: tested below.
    [(f, c) for f in FORMATS for c in sorted(CASES) if (f, c) != (OutputFormat.OPENVEX, "clean")],
)
def test_valid_against_official_schema(fmt: OutputFormat, case: str) -> None:
    validate(json.loads(renderer(fmt)(CASES[case], OPTIONS)), SCHEMA[fmt])


def test_clean_openvex_differs_from_the_schema_only_by_its_empty_statements() -> None:
    doc = json.loads(renderer(OutputFormat.OPENVEX)(CASES["clean"], OPTIONS))
    assert doc["statements"] == []
    with pytest.raises(jsonschema.ValidationError) as raised:
        validate(doc, SCHEMA[OutputFormat.OPENVEX])
    assert raised.value.validator == "minItems"
    doc["statements"] = [{"vulnerability": {"name": "CVE-1"}, "status": "fixed"}]
    validate(doc, SCHEMA[OutputFormat.OPENVEX])


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_validators_do_reject_a_broken_document(fmt: OutputFormat) -> None:
    """The schemas are really applied: a field of the wrong type fails."""
    doc = json.loads(renderer(fmt)(CASES["image"], OPTIONS))
    if fmt is OutputFormat.SARIF:
        doc["runs"][0]["results"][0]["level"] = "fatal"
    elif fmt is OutputFormat.CYCLONEDX:
        doc["vulnerabilities"][0]["ratings"][0]["method"] = "CVSSv5"
    else:
        doc["statements"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, SCHEMA[fmt])


def test_every_state_and_justification_validates() -> None:
    """Each OpenVEX justification maps to a CycloneDX one the schema accepts."""
    justifications = (
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_not_in_execute_path",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "inline_mitigations_already_exist",
    )
    findings = [finding(f"CVE-2024-{i:04d}", LIBSSL, state) for i, state in enumerate(State)]
    suppressed = tuple(
        Suppression(finding(f"CVE-2025-{i:04d}", LIBSSL), "not_affected", j, "v.json")
        for i, j in enumerate(justifications)
    )
    result = ScanResult(
        inventory=inventory(**IMAGE), findings=tuple(findings), suppressed=suppressed
    )
    for fmt in FORMATS:
        validate(json.loads(renderer(fmt)(result, OPTIONS)), SCHEMA[fmt])
