"""The vulnerability gate shared by `zerocve scan`, `build` and `publish`: its options, and
the check of a freshly built image against the local advisory DB."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from zerocve.errors import AdvisoryError, BuildError
from zerocve.inventory.model import Inventory
from zerocve.progress import Reporter
from zerocve.vuln.gate import FailOn, PackageLike, enforce, package_set_difference
from zerocve.vuln.model import ScanResult, Severity, State


class MinSeverity(StrEnum):
    NEGLIGIBLE = "negligible"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


FailOnOption = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 when findings in these states remain: fixed | open | any.",
        show_default=False,
        case_sensitive=False,
    ),
]
MinSeverityOption = Annotated[
    MinSeverity | None,
    typer.Option(
        "--min-severity",
        help="With --fail-on: only findings at or above this severity fail.",
        show_default=False,
        case_sensitive=False,
    ),
]
VexOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--vex",
        metavar="FILE",
        exists=True,
        dir_okay=False,
        help="OpenVEX 0.2.0 document (repeatable): not_affected/fixed statements move "
        "matching findings to the suppressed list.",
        show_default=False,
    ),
]
NoScanOption = Annotated[
    bool, typer.Option("--no-scan", help="Skip the vulnerability scan and its gate.")
]


def threshold(min_severity: MinSeverity | None) -> Severity:
    return Severity(min_severity.value) if min_severity else Severity.NEGLIGIBLE


def summarize(result: ScanResult, platform: str | None = None) -> str:
    states = Counter(f.state.value for f in result.findings)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    suppressed = f", {len(result.suppressed)} suppressed by VEX" if result.suppressed else ""
    return (
        f"scan{f' {platform}' if platform else ''}: {len(result.inventory.packages)} packages, "
        f"{len(result.findings)} findings{f' ({counts})' if counts else ''}{suppressed}"
    )


def gate_image(
    image: Path,
    *,
    action: str,
    fail_on: FailOn | None,
    min_severity: MinSeverity | None,
    vex_files: list[Path] | None,
    db_path: Path | None,
    require_db: bool,
    reporter: Reporter,
    platforms: Sequence[str | None] = (None,),
    offered_versions: Callable[[], Mapping[str, str]] | None = None,
    expected: Sequence[Sequence[PackageLike]] | None = None,
) -> list[ScanResult]:
    """Scan each platform of a built image (layout or archive) as any scanner would see it,
    and enforce ``fail_on``. Without a DB: an error when ``require_db``, else a note and no
    scan. ``offered_versions`` (source → newest version in the image's repositories) is asked
    only when a finding looks fixable, to tell ``fixed`` from ``fix-unavailable``: a fix the
    repositories do not carry yet cannot be had by rebuilding. ``expected`` (per platform,
    the lock's packages): the packages read back must be exactly those, scanned or not, or
    a BuildError (exit 3) names the difference."""
    # Imported here: the DB and target readers weigh on every command's start-up.
    from zerocve.inventory.targets import open_inventory
    from zerocve.vuln.db import default_db_path
    from zerocve.vuln.scan import scan

    def check(inventory: Inventory, index: int) -> None:
        if expected is None:
            return
        difference = package_set_difference(inventory.packages, expected[index])
        if difference is not None:
            where = f" {platforms[index]}" if platforms[index] else ""
            raise BuildError(f"{image}{where}: {difference}; refusing to {action}")

    db = db_path or default_db_path()
    if not db.exists():
        if require_db:
            raise AdvisoryError(
                f"{db}: no advisory DB to check the image against; run `zerocve db update "
                f"--osv ...` first, or pass --no-scan to {action} unscanned"
            )
        reporter.note(f"not scanned: no advisory DB at {db} (zerocve db update)")
        for index, platform in enumerate(platforms if expected else ()):
            check(open_inventory(str(image), platform=platform, reporter=reporter), index)
        return []
    offered = functools.cache(offered_versions) if offered_versions else None
    results = []
    for index, platform in enumerate(platforms):
        result = scan(str(image), db_path=db, vex_files=vex_files or (), platform=platform,
                      reporter=reporter)
        check(result.inventory, index)
        if offered is not None and any(f.state is State.FIXED for f in result.findings):
            result = scan(str(image), db_path=db, vex_files=vex_files or (), platform=platform,
                          available_versions=offered(), reporter=reporter)
        reporter.note(summarize(result, platform))
        if fail_on is not None:
            enforce(result, fail_on, threshold(min_severity), action=action)
        results.append(result)
    return results
