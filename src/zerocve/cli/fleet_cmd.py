"""`zerocve fleet status|plan|history`: what the fleet's images are, what a check would
rebuild and why, and what happened to them."""

from __future__ import annotations

import json
import sys

from rich.markup import escape
from rich.table import Table

from zerocve.cli._app import console, reporter
from zerocve.cli._fleet import (
    FleetArgument,
    ImageArgument,
    Output,
    OutputOption,
    StoreOption,
    age,
    fleet_app,
    open_store,
    to_json,
)
from zerocve.cli._output import write_output
from zerocve.fleet.check import check
from zerocve.fleet.config import load_fleet
from zerocve.fleet.report import fleet_status, image_history
from zerocve.settings import Settings


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


@fleet_app.command("status")
def status(fleet: FleetArgument, store: StoreOption = None,
           output: OutputOption = Output.TABLE) -> None:  # fmt: skip
    """Every image of the fleet: published digest, age, packages, open and fixable CVEs
    (at its last scan), whether its last rebuild failed staging (and why), last event.
    Reads the store only."""
    config = load_fleet(fleet)
    with open_store(store) as opened:
        rows = fleet_status(opened, config)
    if output is Output.JSON:
        write_output(to_json(rows), None)
        return
    table = Table("image", "digest", "age", "packages", "fixable", "open", "last event")
    for row in rows:
        last = row.last_event
        failed = row.failed_staging
        table.add_row(
            row.name + (" (held)" if row.held else "")
            + (f"\nfailed-staging (job {failed.job}): {escape(failed.reason)}" if failed else ""),
            row.digest[:19] if row.digest else "never promoted",
            age(row.age_seconds),
            _count(row.packages),
            _count(row.fixable),
            _count(row.open),
            escape(f"{last.at:%Y-%m-%d %H:%M} {last.kind}: {last.message}") if last else "-",
        )
    console.print(table)


@fleet_app.command("history")
def history(image: ImageArgument, store: StoreOption = None,
            output: OutputOption = Output.TABLE) -> None:  # fmt: skip
    """Promotions (with their changelogs), failed stages, rollbacks, holds and errors of
    one image, oldest first."""
    with open_store(store) as opened:
        entries = image_history(opened, image)
    if output is Output.JSON:
        write_output(to_json(entries), None)
        return
    table = Table("when", "event", "what")
    for entry in entries:
        summary = entry.data.get("summary")  # a promotion's changelog, in one line
        what = entry.message + (f"\n{summary}" if isinstance(summary, str) else "")
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.kind, escape(what))
    console.print(table)


@fleet_app.command("plan")
def plan(fleet: FleetArgument, store: StoreOption = None,
         output: OutputOption = Output.TABLE) -> None:  # fmt: skip
    """What a check would rebuild now, and why: per image, each package old → new and the
    CVEs the new version fixes. A dry run: polls the repositories and feeds, records
    nothing."""
    config = load_fleet(fleet)
    settings = Settings.from_env(reporter=reporter())
    with open_store(store, settings) as opened:
        result = check(opened, config, settings, record=False)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if output is Output.JSON:
        document = {
            "changed": [{"uri": uri, "suite": suite} for uri, suite in result.repositories.changed],
            "new_versions": [v.describe() for v in result.repositories.new_versions],
            "new_fixes": [f"{f.vulnerability} {f.source} {f.fixed_version}"
                          for f in result.advisories.new_fixes],
            "images": [p.to_json() for p in result.plans],
        }  # fmt: skip
        write_output(json.dumps(document, indent=2, ensure_ascii=False) + "\n", None)
        return
    table = Table("image", "plan", "why")
    for p in result.plans:
        why = "\n".join(m.describe() for m in p.moves) if p.rebuild and p.moves else p.why
        table.add_row(p.name, str(p.verdict), escape(why))
    console.print(table)
    rebuilds = len(result.rebuilds)
    console.print(f"{rebuilds} of {len(result.plans)} images to rebuild", highlight=False)


# The rebuild loop's commands register on the same group.
from zerocve.cli import fleet_run_cmd  # noqa: E402, F401
