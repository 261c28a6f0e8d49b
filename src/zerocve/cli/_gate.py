"""The vulnerability gate's options, shared by `zerocve scan`, `build` and `publish`, and how
its outcome is printed: the check itself is ``zerocve.api.gate``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zerocve import api
from zerocve.errors import AdvisoryError, BuildError, GateError
from zerocve.inventory.model import Inventory
from zerocve.settings import Settings
from zerocve.vuln.gate import FailOn
from zerocve.vuln.model import ScanResult, Severity

if TYPE_CHECKING:  # the spec model (pydantic) is not for `zerocve scan` to import
    from zerocve.spec import ImageSpec


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


def summarize(result: ScanResult) -> str:
    states = Counter(f.state.value for f in result.findings)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    suppressed = f", {len(result.suppressed)} suppressed by VEX" if result.suppressed else ""
    where = f" {result.platform}" if result.platform else ""
    return (
        f"scan{where}: {len(result.inventory.packages)} packages, "
        f"{len(result.findings)} findings{f' ({counts})' if counts else ''}{suppressed}"
    )


def check_image(
    target: Path,
    settings: Settings,
    *,
    action: str,
    require_db: bool,
    fail_on: FailOn | None,
    min_severity: MinSeverity | None,
    vex: Sequence[Path],
    lock: api.Lock | None,
    indices: api.Indices | None,
    spec: ImageSpec | None = None,
) -> list[ScanResult]:
    """What `build` and `publish` do with the image they wrote: read it back as any scanner
    would; with ``lock``, its packages must be exactly the lock's (else exit 3, DB or not);
    scan it when there is an advisory DB (without one: an error when ``require_db``, else a
    note), print a summary per platform, and exit 1 on findings over ``fail_on``; returns
    the scan results (none without a DB)."""
    if not settings.db_path.exists():
        if require_db:
            raise AdvisoryError(
                f"{settings.db_path}: no advisory DB to check the image against; run `zerocve "
                f"db update --osv ...` first, or pass --no-scan to {action} unscanned"
            )
        settings.reporter.note(
            f"not scanned: no advisory DB at {settings.db_path} (zerocve db update)")
        if lock is not None:
            _hold_to_lock(target, api.read_back(target, settings), lock, action)
        return []
    policy = api.GatePolicy(fail_on or FailOn.FIXED, threshold(min_severity))
    results, verdict = api.gate(target, settings, policy, vex=vex, indices=indices, spec=spec)
    if lock is not None:
        _hold_to_lock(target, [(r.platform, r.inventory) for r in results], lock, action)
    for result in results:
        settings.reporter.note(summarize(result))
    if fail_on is not None and not verdict.passed:
        raise GateError(f"refusing to {action}: {verdict.reason}")
    return results


def _hold_to_lock(
    target: Path, images: Sequence[tuple[str | None, Inventory]], lock: api.Lock, action: str
) -> None:
    mismatch = api.lock_difference(images, lock)
    if mismatch is not None:
        platform, difference = mismatch
        where = f" {platform}" if platform else ""
        raise BuildError(f"{target}{where}: {difference}; refusing to {action}")
