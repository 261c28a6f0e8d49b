"""An inventory from an SBOM: CycloneDX or SPDX 2.x JSON, ours or another tool's.

Debian packages are the components with a ``pkg:deb/<distro>/NAME@VERSION?arch=…`` purl.
Each producer records the source package its own way; all are read, best first:

- zerocve: CycloneDX ``pedigree.ancestors`` / SPDX ``GENERATED_FROM`` pointing at a
  ``…?arch=source`` package;
- syft: the purl qualifier ``upstream=SRC`` or ``upstream=SRC@VERSION``;
- trivy: the properties ``aquasecurity:trivy:SrcName``/``SrcVersion``/``SrcRelease``/
  ``SrcEpoch`` (and an ``epoch`` purl qualifier where the version lacks it);
- otherwise the binary is its own source.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from packageurl import PackageURL

from zerocve.debian.model import InstalledPackage
from zerocve.debian.releases import CODENAMES, VERSION_IDS
from zerocve.errors import InventoryError
from zerocve.inventory import dpkg
from zerocve.inventory.model import Distro, Inventory
from zerocve.safe_load import LoadError, load_json

_NO_LICENSE = ("NOASSERTION", "NONE", "")


def _purl(text: Any) -> PackageURL | None:
    if not isinstance(text, str) or not text.startswith("pkg:deb/"):
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _version(purl: PackageURL) -> str:
    version = purl.version or ""
    epoch = _qualifiers(purl).get("epoch")
    if epoch and ":" not in version:
        version = f"{epoch}:{version}"
    return version


def _qualifiers(purl: PackageURL) -> dict[str, str]:
    qualifiers = purl.qualifiers or {}
    return dict(qualifiers) if isinstance(qualifiers, dict) else {}


def _upstream(purl: PackageURL, version: str) -> tuple[str, str] | None:
    upstream = _qualifiers(purl).get("upstream")
    if not upstream:
        return None
    name, _, source_version = upstream.partition("@")
    return name, source_version or version


def _distro(purls: list[PackageURL]) -> Distro | None:
    """``distro=debian-12`` (syft, zerocve), ``debian-12.5`` (trivy) or ``bookworm``."""
    for purl in purls:
        text = _qualifiers(purl).get("distro", "")
        if not text:
            continue
        distro_id, _, version = text.rpartition("-")
        if not distro_id:  # a bare codename
            number = VERSION_IDS.get(text, "")
            return Distro(purl.namespace or "debian", number, text)
        if distro_id != "debian":
            return Distro(distro_id, version, "")
        major = version.split(".", 1)[0]
        return Distro(distro_id, major, CODENAMES.get(major, ""))
    return None


def _package(
    purl: PackageURL,
    source: tuple[str, str] | None,
    licenses: tuple[str, ...],
    location: str,
) -> InstalledPackage | None:
    version = _version(purl)
    arch = _qualifiers(purl).get("arch", "")
    if not purl.name or not version or arch == "source":
        return None
    source = source or _upstream(purl, version) or (purl.name, version)
    return InstalledPackage(
        name=purl.name,
        version=version,
        architecture=arch,
        source=source[0],
        source_version=source[1],
        licenses=licenses,
        location=location,
    )


# ---- CycloneDX ------------------------------------------------------------------------------


def _components(components: Any) -> Iterator[dict[str, Any]]:
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict):
            yield component
            yield from _components(component.get("components"))


def _cdx_licenses(component: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for choice in component.get("licenses") or []:
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("expression"), str):
            found.append(choice["expression"])
        elif isinstance(choice.get("license"), dict):
            license_ = choice["license"]
            text = license_.get("id") or license_.get("name")
            if isinstance(text, str) and text:
                found.append(text)
    return tuple(found)


def _cdx_source(component: dict[str, Any], version: str) -> tuple[str, str] | None:
    for ancestor in (component.get("pedigree") or {}).get("ancestors") or []:
        purl = _purl(ancestor.get("purl")) if isinstance(ancestor, dict) else None
        if purl is not None and _qualifiers(purl).get("arch") == "source":
            return purl.name, _version(purl)
    props: dict[str, str] = {
        str(p.get("name")): p["value"]
        for p in component.get("properties") or []
        if isinstance(p, dict) and isinstance(p.get("value"), str)
    }
    name = props.get("aquasecurity:trivy:SrcName")
    if not name:
        return None
    source_version = props.get("aquasecurity:trivy:SrcVersion") or ""
    if not source_version:
        return name, version
    if props.get("aquasecurity:trivy:SrcRelease"):
        source_version += "-" + props["aquasecurity:trivy:SrcRelease"]
    if props.get("aquasecurity:trivy:SrcEpoch") not in (None, "", "0"):
        source_version = f"{props['aquasecurity:trivy:SrcEpoch']}:{source_version}"
    return name, source_version


def _image(component: Any) -> tuple[str | None, str | None]:
    """(digest, name) of a CycloneDX metadata component or SPDX package that is the image."""
    if not isinstance(component, dict):
        return None, None
    purl_text = component.get("purl")
    if not purl_text:
        refs = component.get("externalRefs") or []
        purl_text = next(
            (
                r.get("referenceLocator")
                for r in refs
                if isinstance(r, dict) and r.get("referenceType") == "purl"
            ),
            None,
        )
    if isinstance(purl_text, str) and purl_text.startswith("pkg:oci/"):
        try:
            purl = PackageURL.from_string(purl_text)
        except ValueError:
            return None, None
        return purl.version, _qualifiers(purl).get("repository_url")
    return None, None


def _read_cyclonedx(document: dict[str, Any], target: str) -> Inventory:
    packages: list[InstalledPackage] = []
    purls: list[PackageURL] = []
    other = 0
    for component in _components(document.get("components")):
        purl = _purl(component.get("purl"))
        if purl is None:
            other += component.get("type") != "operating-system"
            continue
        purls.append(purl)
        package = _package(
            purl,
            _cdx_source(component, _version(purl)),
            _cdx_licenses(component),
            f"{target}: {component.get('bom-ref', purl.to_string())}",
        )
        if package is not None:
            packages.append(package)
    digest, name = _image((document.get("metadata") or {}).get("component"))
    return _inventory(target, packages, purls, digest, name, other)


# ---- SPDX -----------------------------------------------------------------------------------


def _spdx_purl(package: dict[str, Any]) -> PackageURL | None:
    for ref in package.get("externalRefs") or []:
        if isinstance(ref, dict) and ref.get("referenceType") == "purl":
            purl = _purl(ref.get("referenceLocator"))
            if purl is not None:
                return purl
    return None


def _read_spdx(document: dict[str, Any], target: str) -> Inventory:
    by_id = {
        p["SPDXID"]: p
        for p in document.get("packages") or []
        if isinstance(p, dict) and isinstance(p.get("SPDXID"), str)
    }
    generated_from: dict[str, str] = {}
    for rel in document.get("relationships") or []:
        if not isinstance(rel, dict):
            continue
        kind = rel.get("relationshipType")
        a, b = rel.get("spdxElementId"), rel.get("relatedSpdxElement")
        if kind == "GENERATED_FROM" and isinstance(a, str) and isinstance(b, str):
            generated_from[a] = b
        elif kind == "GENERATES" and isinstance(a, str) and isinstance(b, str):
            generated_from[b] = a
    packages: list[InstalledPackage] = []
    purls: list[PackageURL] = []
    other = 0
    image: tuple[str | None, str | None] = (None, None)
    described = set(document.get("documentDescribes") or [])
    for spdx_id, entry in by_id.items():
        purl = _spdx_purl(entry)
        if purl is None:
            found = _image(entry)
            is_root = spdx_id in described or entry.get("primaryPackagePurpose") == "CONTAINER"
            if found[0] and is_root:
                image = found
            else:
                other += 1
            continue
        purls.append(purl)
        source = None
        source_entry = by_id.get(generated_from.get(spdx_id, ""))
        source_purl = _spdx_purl(source_entry) if source_entry else None
        if source_purl is not None:
            source = (source_purl.name, _version(source_purl))
        declared = entry.get("licenseDeclared", "")
        licenses = (declared,) if isinstance(declared, str) and declared not in _NO_LICENSE else ()
        package = _package(purl, source, licenses, f"{target}: {spdx_id}")
        if package is not None:
            packages.append(package)
    return _inventory(target, packages, purls, image[0], image[1], other)


def _inventory(
    target: str,
    packages: list[InstalledPackage],
    purls: list[PackageURL],
    digest: str | None,
    name: str | None,
    other: int,
) -> Inventory:
    if not packages:
        raise InventoryError(f"{target}: no Debian packages (pkg:deb purls) in this SBOM")
    warnings = (f"{target}: {other} non-Debian component(s) ignored",) if other else ()
    return Inventory(
        target=target,
        distro=_distro(purls),
        packages=dpkg.deduplicate(packages),
        image_digest=digest,
        image_name=name,
        warnings=warnings,
    )


def is_sbom(document: Any) -> bool:
    return isinstance(document, dict) and (
        document.get("bomFormat") == "CycloneDX"
        or str(document.get("spdxVersion", "")).startswith("SPDX-2.")
    )


def read_sbom(data: bytes, *, target: str) -> Inventory:
    """The inventory an SBOM describes; ``InventoryError`` for anything else."""
    try:
        document = load_json(data)
    except LoadError as e:
        raise InventoryError(e.located(target)) from e
    if not is_sbom(document):
        raise InventoryError(f"{target}: neither a CycloneDX nor an SPDX 2.x JSON document")
    if document.get("bomFormat") == "CycloneDX":
        return _read_cyclonedx(document, target)
    return _read_spdx(document, target)


__all__ = ["is_sbom", "read_sbom"]
