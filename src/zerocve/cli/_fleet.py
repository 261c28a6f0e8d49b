"""The ``zerocve fleet`` command group and the options its commands share. Each fleet
command module registers on ``fleet_app``; ``fleet_cmd`` imports them all."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from zerocve.cli._app import app
from zerocve.fleet.changelog import duration
from zerocve.fleet.store import Store, store_url
from zerocve.settings import Settings

fleet_app = typer.Typer(
    help=(
        "Keep a fleet of images at zero fixable CVEs: watch the repositories and advisory "
        "feeds, rebuild exactly the images a fix reaches, stage, promote, roll back."
    ),
    no_args_is_help=True,
)
app.add_typer(fleet_app, name="fleet")

FleetArgument = Annotated[
    Path,
    typer.Argument(metavar="FLEET.yaml", help="The fleet file.", show_default=False),
]
ImageArgument = Annotated[
    str, typer.Argument(metavar="IMAGE", help="An image name of the fleet.", show_default=False)
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="The state store: postgresql://USER@HOST/DB or sqlite:///PATH "
        "(default: fleet.sqlite in $ZEROCVE_STATE_DIR or the user state dir).",
        show_default=False,
    ),
]


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="Output format.", case_sensitive=False)
]


def open_store(store: str | None, settings: Settings | None = None) -> Store:
    """The store ``--store`` names, else the default one under the settings' state dir."""
    settings = settings or Settings.from_env()
    return Store.open(store_url(store, settings.state_dir), clock=settings.clock)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(rows: Any) -> str:
    """Dataclass rows (and lists of them) as indented JSON, times in ISO 8601."""
    data = [dataclasses.asdict(r) for r in rows] if isinstance(rows, list) else (
        dataclasses.asdict(rows)
    )
    return json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n"


def age(seconds: float | None) -> str:
    """``3d 4h``, ``12m 5s``; ``-`` when unknown."""
    return "-" if seconds is None else duration(seconds)
