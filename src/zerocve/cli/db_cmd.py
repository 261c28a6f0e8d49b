"""`zerocve db update`, `db remove` and `db status`: the local advisory DB."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from zerocve.cli._app import app, console, settings
from zerocve.cli._options import DbOption
from zerocve.vuln import db

db_app = typer.Typer(
    help=(
        "The local advisory DB (OSV + Debian Security Tracker). Scans read it and never touch "
        "the network. Default location: $ZEROCVE_DB, else the user cache dir."
    ),
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")



@db_app.command("update")
def update(
    osv: Annotated[
        list[str] | None,
        typer.Option(
            "--osv",
            metavar="PATH|URL",
            help=(
                "OSV records for Debian: a zip, a directory, or an http(s) URL of either"
                " (a directory URL ends in /; its listing is followed). Repeatable."
            ),
        ),
    ] = None,
    tracker: str | None = typer.Option(
        None,
        "--tracker",
        metavar="PATH|URL",
        help="The Debian Security Tracker JSON (its /tracker/data/json), file or URL.",
    ),
    db_path: DbOption = None,
) -> None:
    """Add or refresh the sources given; every other source the DB holds is kept as it is
    (`zerocve db remove` drops one). With no source, re-reads every recorded source.
    Unchanged inputs (same content, or HTTP 304) do no work."""
    sources = [db.FeedSource.of("osv", o) for o in osv or ()]
    if tracker:
        sources.append(db.FeedSource.of("debian-tracker", tracker))
    given = settings(db_path=db_path)
    stats = db.update(sources, given.db_path, reporter=given.reporter)
    if not stats.rebuilt:
        console.print(f"advisory DB {stats.path} is up to date (inputs unchanged)")
        return
    imported = ", ".join(
        f"{s.advisories} {s.source.kind} records" + ("" if s.refreshed else " (kept)")
        for s in stats.sources
    )
    console.print(
        f"advisory DB {stats.path}: {imported}; {stats.rows} affected entries, "
        f"{stats.size / 1e6:.1f} MB, built in {stats.seconds:.1f} s"
    )


@db_app.command("remove")
def remove(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A recorded location (path or URL, as `db status` lists it), or a kind: "
            "osv or debian-tracker (every source of that kind).",
            show_default=False,
        ),
    ],
    db_path: DbOption = None,
) -> None:
    """Drop one source and its records from the DB; the others are kept as they are."""
    gone = db.remove(source, settings(db_path=db_path).db_path)
    console.print("removed " + ", ".join(f"{s.kind} {s.location}" for s in gone))


@db_app.command("status")
def status(db_path: DbOption = None) -> None:
    """Show the DB's sources, when they were imported and what they hold per release."""
    info = db.status(settings(db_path=db_path).db_path)
    console.print(f"advisory DB {info.path} — built {info.built_at}, {info.size / 1e6:.1f} MB")
    table = Table(
        "source", "location", "fingerprint / etag", "imported at", "records", "per release"
    )
    for s in info.sources:
        table.add_row(
            s.source.kind,
            s.source.location,
            (s.etag or s.fingerprint)[:23],
            s.imported_at,
            str(s.advisories),
            "\n".join(f"{rel}: {n}" for rel, n in s.per_release),
        )
    console.print(table)
