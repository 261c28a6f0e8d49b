"""`zerocve pin`: rewrite pinned image references under a directory to the digests their tags
have now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerocve.cli._app import app, console, console_err
from zerocve.fleet import pin_apply
from zerocve.fleet.pin import commit_message, unified_diff
from zerocve.settings import Settings

EPILOG = """\
[bold]What is rewritten[/]: every [cyan]REGISTRY/REPO:TAG@sha256:…[/] in the text files
under DIR (Dockerfiles, Kubernetes and compose YAML, anything textual; .git, binary and
files over 4 MiB are skipped) whose tag now points at another digest. The registry is asked
once per tag (HEAD). References without a registry host or without a digest are left alone.

[bold]Examples[/]
  zerocve pin deploy/                 # rewrite and print the diff
  zerocve pin deploy/ --dry-run       # print the diff only
  zerocve pin deploy/ --commit        # and commit on a new branch, changelog as message

[bold]Exit codes[/]: 0 done (or nothing to change); 2 usage error (no such directory, not
a git work tree or uncommitted changes with --commit); 3 a registry or git failure (no file
is written when a tag cannot be resolved).
"""


@app.command("pin", epilog=EPILOG)
def pin(
    directory: Annotated[Path, typer.Argument(metavar="DIR", show_default=False)],
    commit: Annotated[
        bool,
        typer.Option("--commit", help="Commit the change on a new git branch, with the "
                     "images' changelog (package changes) as the message."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff; change nothing.")
    ] = False,
    branch: Annotated[
        str | None,
        typer.Option("--branch", metavar="NAME", help="Branch for --commit "
                     "(default zerocve/pin-YYYYMMDD-HHMMSS)."),
    ] = None,
) -> None:
    """Rewrite pinned image references under DIR to the digest each tag has now, printing
    a unified diff."""
    settings = Settings.from_env()
    plan = pin_apply.plan(directory, pin_apply.registry_resolver(settings))
    for change in plan.changes:
        console.out(unified_diff(str(change.path), change.before, change.after), end="",
                    highlight=False)
    if not plan.changes:
        console_err.print(f"{directory}: every pinned reference is current", highlight=False)
        return
    if dry_run:
        return
    if commit:
        pin_apply.check_committable(plan)
    pin_apply.write(plan)
    if commit:
        message = commit_message(pin_apply.package_changes(m) for m in plan.moves)
        name = branch or f"zerocve/pin-{settings.clock():%Y%m%d-%H%M%S}"
        commit_id = pin_apply.commit(plan, name, message)
        console_err.print(f"committed {commit_id[:12]} on branch {name}", highlight=False)
