"""The gate: every (fail-on × min-severity × state × severity) combination, and its message."""

from __future__ import annotations

import itertools

import pytest

from support.findings import LIBC, LIBSSL, OPENSSL, ZLIB, finding, inventory, sample_result
from zerocve.api import GatePolicy, Verdict, check_gate
from zerocve.vuln.gate import THRESHOLDS, FailOn, describe, over_gate, worst_first
from zerocve.vuln.model import ScanResult, Severity, State, Suppression

EXPECTED_STATES = {
    FailOn.FIXED: {State.FIXED},
    FailOn.OPEN: {State.FIXED, State.FIX_UNAVAILABLE, State.OPEN},
    FailOn.ANY: set(State),
}


@pytest.mark.parametrize(("fail_on", "min_severity"), list(itertools.product(FailOn, THRESHOLDS)))
def test_matrix(fail_on: FailOn, min_severity: Severity) -> None:
    findings = [
        finding(f"CVE-2024-{i:04d}", LIBSSL, state, severity)
        for i, (state, severity) in enumerate(itertools.product(State, Severity))
    ]
    failing = over_gate(findings, fail_on, min_severity)
    expected = {
        f.vulnerability
        for f in findings
        if f.state in EXPECTED_STATES[fail_on]
        and (f.severity is Severity.UNKNOWN or f.severity.rank >= min_severity.rank)
    }
    assert {f.vulnerability for f in failing} == expected
    # Spot-check the rule independently of the comprehension above.
    states = {f.state for f in failing}
    assert states == EXPECTED_STATES[fail_on]
    severities = {f.severity for f in failing}
    assert Severity.UNKNOWN in severities  # not yet assessed never slips through
    assert min(s.rank for s in severities - {Severity.UNKNOWN}) == min_severity.rank


def test_unknown_is_not_offered_as_a_threshold() -> None:
    assert Severity.UNKNOWN not in THRESHOLDS
    assert THRESHOLDS[0] is Severity.NEGLIGIBLE and THRESHOLDS[-1] is Severity.CRITICAL


def test_clean_result_passes_every_gate() -> None:
    result = ScanResult(inventory=inventory(), findings=())
    for fail_on in FailOn:
        assert check_gate([result], GatePolicy(fail_on)) == Verdict(
            True, (), f"nothing over the gate (0 findings, --fail-on {fail_on.value})")


def test_suppressed_findings_never_fail() -> None:
    f = finding("CVE-2024-0727", LIBSSL)
    result = ScanResult(
        inventory=inventory(),
        findings=(),
        suppressed=(Suppression(f, "not_affected", "component_not_present", "v.json"),),
    )
    assert check_gate([result], GatePolicy(FailOn.ANY)).passed


def test_sample_result_per_gate() -> None:
    result = sample_result()

    def names(fail_on: FailOn, severity: Severity = Severity.NEGLIGIBLE) -> list[tuple[str, str]]:
        return [
            (f.vulnerability, f.package.name) for f in over_gate(result.findings, fail_on, severity)
        ]

    assert names(FailOn.FIXED) == [
        ("CVE-2023-5678", "libssl3"),  # medium before low
        ("CVE-2024-0727", "libssl3"),
        ("CVE-2024-0727", "openssl"),
    ]
    assert names(FailOn.FIXED, Severity.MEDIUM) == [("CVE-2023-5678", "libssl3")]
    assert names(FailOn.FIXED, Severity.HIGH) == []
    assert names(FailOn.OPEN, Severity.HIGH) == [
        ("CVE-2024-99999", "libc6"),
        ("CVE-2025-0395", "libc6"),  # unknown severity: kept
    ]
    assert len(names(FailOn.ANY)) == len(result.findings)
    assert names(FailOn.ANY, Severity.CRITICAL) == [
        ("CVE-2023-45853", "zlib1g"),
        ("CVE-2025-0395", "libc6"),
    ]


def test_worst_first_puts_fixable_before_severity() -> None:
    ordered = worst_first(
        [
            finding("CVE-3", ZLIB, State.OPEN, Severity.CRITICAL),
            finding("CVE-2", OPENSSL, State.FIXED, Severity.LOW),
            finding("CVE-1", LIBSSL, State.FIXED, Severity.HIGH),
            finding("CVE-0", LIBC, State.FIXED, Severity.HIGH),
        ]
    )
    assert [f.vulnerability for f in ordered] == ["CVE-0", "CVE-1", "CVE-2", "CVE-3"]


def test_a_verdict_names_the_worst_findings() -> None:
    verdict = check_gate([sample_result()], GatePolicy(FailOn.FIXED))
    assert not verdict.passed
    assert [f.vulnerability for f in verdict.failing] == [
        "CVE-2023-5678", "CVE-2024-0727", "CVE-2024-0727"]
    assert verdict.reason == (
        "3 fixable vulnerabilities ("
        "CVE-2023-5678 libssl3 3.0.11-1~deb12u2 → 3.0.13-1~deb12u1, "
        "CVE-2024-0727 libssl3 3.0.11-1~deb12u2 → 3.0.13-1~deb12u1, "
        "CVE-2024-0727 openssl 3.0.11-1~deb12u2 → 3.0.13-1~deb12u1)"
    )


def test_a_verdict_for_other_gates() -> None:
    verdict = check_gate([sample_result()], GatePolicy(FailOn.OPEN, Severity.HIGH))
    assert verdict.reason == (
        "2 unfixed or fixable vulnerabilities ("
        "CVE-2024-99999 libc6 2.36-9+deb12u3 → 2.36-9+deb12u9, "
        "CVE-2025-0395 libc6 2.36-9+deb12u3 (open))"
    )


def test_describe_truncates() -> None:
    findings = [finding(f"CVE-2024-{i}", LIBSSL) for i in range(5)]
    text = describe(findings, FailOn.ANY, limit=2)
    assert text.startswith("5 vulnerabilities (CVE-2024-0 libssl3")
    assert text.endswith(", and 3 more)")
    assert describe(findings[:1], FailOn.FIXED).startswith("1 fixable vulnerability (")
