"""Hand-built packages, inventories and findings for the pure vuln tests (VEX, gate, formats).
Versions and advisories are real Debian bookworm ones, so the reports read like real scans."""

from __future__ import annotations

from typing import Any

from zerocve.debian.model import InstalledPackage
from zerocve.inventory.model import Distro, Inventory
from zerocve.vuln.model import Cvss, Finding, ScanResult, Severity, State

BOOKWORM = Distro(id="debian", version_id="12", codename="bookworm")
DIGEST = "sha256:" + "5e" * 32


def pkg(
    name: str,
    version: str,
    *,
    arch: str = "amd64",
    source: str | None = None,
    source_version: str | None = None,
) -> InstalledPackage:
    return InstalledPackage(
        name=name,
        version=version,
        architecture=arch,
        source=source or name,
        source_version=source_version or version,
    )


LIBSSL = pkg("libssl3", "3.0.11-1~deb12u2", source="openssl")
OPENSSL = pkg("openssl", "3.0.11-1~deb12u2")
ZLIB = pkg("zlib1g", "1:1.2.13.dfsg-1", source="zlib")
LIBC = pkg("libc6", "2.36-9+deb12u3", source="glibc")
TZDATA = pkg("tzdata", "2024a-0+deb12u1", arch="all")


def finding(
    vulnerability: str,
    package: InstalledPackage,
    state: State = State.FIXED,
    severity: Severity = Severity.HIGH,
    **extra: Any,
) -> Finding:
    if state is State.FIXED:
        extra.setdefault("fixed_version", "3.0.13-1~deb12u1")
    return Finding(
        vulnerability=vulnerability, package=package, state=state, severity=severity, **extra
    )


def inventory(
    *packages: InstalledPackage,
    image_digest: str | None = None,
    image_name: str | None = None,
    target: str = "rootfs",
    distro: Distro | None = BOOKWORM,
) -> Inventory:
    return Inventory(
        target=target,
        distro=distro,
        packages=packages or (LIBSSL, OPENSSL, ZLIB, LIBC, TZDATA),
        image_digest=image_digest,
        image_name=image_name,
    )


def sample_result(**inventory_args: Any) -> ScanResult:
    """A scan with every state, CVSS vectors, aliases and notes: what the formats must carry."""
    cvss = (Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),)
    findings = (
        finding(
            "CVE-2024-0727",
            LIBSSL,
            State.FIXED,
            Severity.LOW,
            urgency="low",
            cvss=cvss,
            aliases=("DSA-5621-1",),
            description="PKCS12 NULL dereference",
            sources=("debian-tracker", "osv"),
        ),
        finding(
            "CVE-2024-0727",
            OPENSSL,
            State.FIXED,
            Severity.LOW,
            urgency="low",
            cvss=cvss,
            aliases=("DSA-5621-1",),
            sources=("osv",),
        ),
        finding("CVE-2023-5678", LIBSSL, State.FIXED, Severity.MEDIUM, urgency="medium"),
        finding(
            "CVE-2024-2511", LIBSSL, State.NO_DSA, Severity.LOW, urgency="low", note="Minor issue"
        ),
        finding(
            "CVE-2023-45853",
            ZLIB,
            State.IGNORED,
            Severity.CRITICAL,
            urgency="unimportant",
            cvss=(Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),),
        ),
        finding("CVE-2025-0395", LIBC, State.OPEN, Severity.UNKNOWN, urgency="not yet assigned"),
        finding(
            "CVE-2024-33601",
            LIBC,
            State.POSTPONED,
            Severity.MEDIUM,
            cvss=(Cvss("4.0", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"),),
        ),
        finding(
            "CVE-2024-99999",
            LIBC,
            State.FIX_UNAVAILABLE,
            Severity.HIGH,
            fixed_version="2.36-9+deb12u9",
        ),
    )
    return ScanResult(
        inventory=inventory(**inventory_args), findings=findings, db_built="2025-02-12"
    )
