"""``scan``: target → inventory → findings → VEX → result. Glue only; no network except
pulling a registry target."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from zerocve._gc import cycle_collector_paused
from zerocve.inventory.model import Distro
from zerocve.inventory.targets import inventory_of, open_inventory
from zerocve.progress import NULL_REPORTER, Reporter
from zerocve.vuln import vex
from zerocve.vuln.db import open_db
from zerocve.vuln.match import match
from zerocve.vuln.model import ScanResult
from zerocve.vuln.severity import SeveritySource

if TYPE_CHECKING:  # the image readers are imported by the targets that need them
    from zerocve.cache_seal import CacheSeal
    from zerocve.inventory.sources import RegistryFactory
    from zerocve.oci.reader import ImageSource


def scan(
    target: str | ImageSource,
    *,
    db_path: Path,
    vex_files: Iterable[Path] = (),
    severity_source: SeveritySource = "debian",
    platform: str | None = None,
    available_versions: Mapping[str, str] | None = None,
    distro: Distro | None = None,
    reporter: Reporter = NULL_REPORTER,
    cache_dir: Path | None = None,
    cache_max: int | None = None,
    registry: RegistryFactory | None = None,
    seal: CacheSeal | None = None,
) -> ScanResult:
    """Scan ``target`` (see ``zerocve.inventory.targets``, or an image source such as one
    in memory) against the local advisory DB.
    ``available_versions`` (source package → newest version the image's repositories offer)
    tells ``fixed`` from ``fix-unavailable`` when the repositories are known. ``distro``
    replaces the release the target's os-release names (``--distro``). ``cache_dir``,
    ``cache_max`` and ``seal``: see ``open_inventory``. No report shows licences: the
    result's inventory has none (``open_inventory`` reads them for SBOMs).

    The cheap checks come first: a malformed VEX file or a missing DB fails before an image
    is pulled or unpacked."""
    statements = vex.load(vex_files)
    # Thousands of acyclic records (packages, advisory rows, findings): the cycle collector
    # would walk them all again and again for nothing.
    with open_db(db_path) as db, cycle_collector_paused():
        if isinstance(target, str):
            inventory = open_inventory(target, platform=platform, reporter=reporter,
                                       cache_dir=cache_dir, cache_max=cache_max,
                                       registry=registry, licenses=False, seal=seal)
        else:
            inventory = inventory_of(target, platform=platform, reporter=reporter,
                                     cache_dir=cache_dir, cache_max=cache_max, licenses=False,
                                     seal=seal)
        if distro is not None:
            inventory = dataclasses.replace(inventory, distro=distro)
        with reporter.task(f"matching {len(inventory.packages)} packages"):
            findings = match(inventory, db, severity_source=severity_source,
                             available_versions=available_versions)
        built = db.built_at or None
    kept, suppressed = vex.apply(findings, statements, inventory)
    return ScanResult(inventory=inventory, findings=kept, suppressed=suppressed, db_built=built)
