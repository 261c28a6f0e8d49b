"""`zerocve fleet status|history`: what the fleet's images are and what happened to them."""

from __future__ import annotations

from rich.table import Table

from zerocve.cli._app import console
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
from zerocve.fleet.config import load_fleet
from zerocve.fleet.report import fleet_status, image_history


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


@fleet_app.command("status")
def status(fleet: FleetArgument, store: StoreOption = None,
           output: OutputOption = Output.TABLE) -> None:  # fmt: skip
    """Every image of the fleet: published digest, age, packages, open and fixable CVEs
    (at its last scan), last event. Reads the store only."""
    config = load_fleet(fleet)
    with open_store(store) as opened:
        rows = fleet_status(opened, config)
    if output is Output.JSON:
        write_output(to_json(rows), None)
        return
    table = Table("image", "digest", "age", "packages", "fixable", "open", "last event")
    for row in rows:
        last = row.last_event
        table.add_row(
            row.name + (" (held)" if row.held else ""),
            row.digest[:19] if row.digest else "never promoted",
            age(row.age_seconds),
            _count(row.packages),
            _count(row.fixable),
            _count(row.open),
            f"{last.at:%Y-%m-%d %H:%M} {last.kind}: {last.message}" if last else "-",
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
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.kind, entry.message)
    console.print(table)


# The rebuild loop's commands register on the same group.
from zerocve.cli import fleet_run_cmd  # noqa: E402, F401
