"""What zerocve attests about an image: the statements, built from the image as the registry
serves it (its SBOMs), from its spec and lock (its provenance) and from its triage (VEX).

- each image manifest (each platform of an index): its SPDX 2.3 and CycloneDX 1.6 SBOMs,
  read from the registry's copy as any scanner would read it, dated by the image's own
  creation time so that the same image always gives the same bytes;
- every digest (the index too): the SLSA provenance, whose subjects are all of them;
- each image manifest: the OpenVEX documents given for its platform, or for all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from zerocve import __version__
from zerocve.errors import SigningError
from zerocve.lock import Lock, default_lock_path, dumps_lock
from zerocve.oci.registry import RegistryClient
from zerocve.safe_load import load_json
from zerocve.sbom import lock_checksums, render_sbom
from zerocve.sign.provenance import provenance
from zerocve.sign.statement import CYCLONEDX, OPENVEX, SLSA_PROVENANCE, SPDX, Statement, Subject
from zerocve.sign.targets import Image, Target


@dataclass(frozen=True)
class BuildRecord:
    """The spec and lock an image was built from, as bytes (their digests are attested)."""

    spec_name: str
    spec: bytes
    lock_name: str
    lock_bytes: bytes
    lock: Lock

    @classmethod
    def of(cls, spec_path: Path, lock: Lock) -> BuildRecord:
        """The record of a build that just read ``spec_path`` and used ``lock``."""
        return cls(spec_path.name, spec_path.read_bytes(), default_lock_path(spec_path).name,
                   dumps_lock(lock).encode(), lock)


def _created(client: RegistryClient, image: Image, target: Target) -> int | None:
    """The image config's ``created`` as epoch seconds (zerocve writes SOURCE_DATE_EPOCH)."""
    repo = image.reference.repository
    manifest = load_json(client.get_manifest(repo, target.digest).body)
    config = manifest.get("config") if isinstance(manifest, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str) or \
            not isinstance(config.get("size"), int):
        raise SigningError(f"{image.reference.name}@{target.digest}: manifest has no config")
    created = load_json(client.get_blob(repo, config["digest"], config["size"])).get("created")
    if not isinstance(created, str):
        return None
    return int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())


def sbom_documents(
    client: RegistryClient, image: Image, target: Target, lock: Lock | None
) -> tuple[str, str]:
    """(SPDX, CycloneDX) JSON text of one image manifest, read back from the registry."""
    # Imported here: reading images weighs on start-up, and only signing needs it.
    from zerocve.inventory.targets import open_inventory

    pinned = f"docker://{image.reference.name}@{target.digest}"
    inventory = open_inventory(pinned)
    epoch = lock.source_date_epoch if lock is not None else _created(client, image, target)
    checksums = lock_checksums(lock, inventory) if lock is not None else None
    return (render_sbom(inventory, "spdx-json", checksums=checksums, epoch=epoch),
            render_sbom(inventory, "cyclonedx-json", checksums=checksums, epoch=epoch))


def statements(
    image: Image,
    sboms: Mapping[str, tuple[str, str]],
    build: BuildRecord | None,
    vex: Mapping[str | None, Sequence[dict[str, Any]]],
) -> dict[str, list[Statement]]:
    """The statements to attach, by digest. ``sboms``: (SPDX, CycloneDX) text by manifest
    digest; ``vex``: OpenVEX documents by platform (None: every manifest)."""
    name = image.reference.name
    attached: dict[str, list[Statement]] = {target.digest: [] for target in image.all}
    for target in image.manifests:
        subject = (Subject(name, target.digest),)
        if target.digest in sboms:
            spdx, cyclonedx = sboms[target.digest]
            attached[target.digest] += [
                Statement(subject, SPDX, load_json(spdx)),
                Statement(subject, CYCLONEDX, load_json(cyclonedx)),
            ]
        for document in [*vex.get(None, ()), *(vex.get(target.platform, ()) if
                                                 target.platform else ())]:
            attached[target.digest].append(Statement(subject, OPENVEX, document))
    if build is not None:
        predicate = provenance(build.spec_name, build.spec, build.lock_name, build.lock_bytes,
                               build.lock, __version__)
        everything = tuple(Subject(name, target.digest) for target in image.all)
        for target in image.all:
            attached[target.digest].append(Statement(everything, SLSA_PROVENANCE, predicate))
    return attached
