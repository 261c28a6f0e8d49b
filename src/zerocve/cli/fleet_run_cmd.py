"""`zerocve fleet check|run|serve|rollback|resume`: the rebuild loop and its controls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from zerocve.cli._app import console
from zerocve.cli._fleet import FleetArgument, ImageArgument, StoreOption, fleet_app, open_store
from zerocve.errors import UsageError
from zerocve.fleet.config import load_fleet
from zerocve.fleet.cycle import CycleReport, Runner, plan, run_cycle
from zerocve.fleet.stage import Sandbox
from zerocve.settings import Settings

# Signing, the daemon and rollback are imported by the commands that use them: a no-change
# `fleet run --once` from cron should cost little more than its store and its polls.

WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, max=64, help="Images rebuilt at the same time.")
]
TestTimeoutOption = Annotated[
    float,
    typer.Option("--test-timeout", metavar="SECONDS", min=1,
                 help="Time limit of each staging test; a test still running is killed."),
]


def _runner(
    store: str | None, test_timeout: float = Sandbox.timeout, signing_key: Path | None = None
) -> Runner:
    """The runner; the fleet's signing key is opened first (its passphrase from
    $COSIGN_PASSWORD), so a wrong passphrase fails before anything is built. Each promotion
    reads the key file again (a rotated key needs no restart)."""
    key = None
    if signing_key is not None:
        from zerocve.cli._keys import PASSPHRASE_ENV, passphrase
        from zerocve.fleet.signing_key import SigningKeyFile

        key = SigningKeyFile(signing_key, passphrase(PASSPHRASE_ENV, confirm=False))
        key.signer()
    settings = Settings.from_env()
    return Runner(open_store(store, settings), settings, Sandbox(timeout=test_timeout),
                  signing_key=key)


@fleet_app.command("check")
def check(fleet: FleetArgument, store: StoreOption = None) -> None:
    """Look for changes now: re-resolve every image against the repositories and record a
    rebuild job for each image whose packages would change (run them with `fleet run
    --once`, or let `fleet serve` do it). Exit 3 when an image could not be checked."""
    config = load_fleet(fleet)
    runner = _runner(store)
    with runner.store:
        planned, errors, warnings = plan(runner, config)
    for item in planned:
        console.print(f"{item.image}: rebuild planned (job {item.job_id}): {item.why}",
                      highlight=False, soft_wrap=True)
    if not planned:
        console.print("nothing to rebuild", highlight=False)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        sys.exit(3)


def _print_report(report: CycleReport) -> None:
    for outcome in report.outcomes:
        console.print(f"{outcome.image}: job {outcome.job_id} {outcome.state}",
                      highlight=False, soft_wrap=True)
    if not report.outcomes:
        console.print("nothing to do", highlight=False)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)


@fleet_app.command("run")
def run(
    fleet: FleetArgument,
    once: Annotated[bool, typer.Option("--once", help="One full cycle, then exit.")] = False,
    store: StoreOption = None,
    workers: WorkersOption = 2,
    test_timeout: TestTimeoutOption = Sandbox.timeout,
) -> None:
    """One full cycle for cron and CI: check, rebuild, stage and promote what changed, and
    finish what an earlier run left half way. Exit 0 nothing left to do, 1 an image failed
    its stage (its tags were not moved), 3 operational failure (registry, repository,
    podman, store)."""
    if not once:
        raise UsageError("fleet run: give --once (for a long-running loop: zerocve fleet serve)")
    config = load_fleet(fleet)
    runner = _runner(store, test_timeout, config.signing_key)
    with runner.store:
        report = run_cycle(runner, config, workers=workers)
    _print_report(report)
    # Each problem has had its line: only the code is left to give (SystemExit passes main).
    if report.errors:
        sys.exit(3)
    if report.failed:
        sys.exit(1)


@fleet_app.command("serve")
def serve(
    fleet: FleetArgument,
    store: StoreOption = None,
    listen: Annotated[
        str, typer.Option("--listen", metavar="HOST:PORT", help="Webhook address (loopback).")
    ] = "127.0.0.1:8787",
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", metavar="PATH", help="The webhook's bearer token "
                     "(default: webhook.token in the state dir, created when missing)."),
    ] = None,
    workers: WorkersOption = 2,
    test_timeout: TestTimeoutOption = Sandbox.timeout,
) -> None:
    """The daemon: a cycle at start, then every watch interval of the fleet file, and at
    once on POST /hooks/check with Authorization: Bearer TOKEN. JSON logs on stderr;
    SIGTERM finishes the running steps and exits (what is left resumes on restart)."""
    from zerocve.fleet import daemon

    address = daemon.parse_listen(listen)
    config = load_fleet(fleet)  # a bad fleet file fails now, not in the loop
    runner = _runner(store, test_timeout, config.signing_key)
    token = daemon.load_token(token_file or runner.settings.state_dir / "webhook.token")
    daemon.structured_logging()
    with runner.store:
        daemon.serve(runner, lambda: load_fleet(fleet), listen=address, token=token,
                     workers=workers)


@fleet_app.command("rollback")
def rollback(
    image: ImageArgument,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="DIGEST", help="A digest built for IMAGE (default: the "
                     "one promoted before the current one)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Move IMAGE's floating tags back and hold it: no automatic promotion until `zerocve
    fleet resume IMAGE`."""
    from zerocve.fleet.rollback import rollback as rollback_image

    runner = _runner(store)
    with runner.store:
        done = rollback_image(runner, image, to)
    console.print(
        f"{image}: {', '.join(m.tag for m in done.moves)} → {done.after} (was {done.before}); "
        f"held until zerocve fleet resume {image}", highlight=False, soft_wrap=True,
    )


@fleet_app.command("resume")
def resume(
    image: ImageArgument,
    store: StoreOption = None,
    repromote: Annotated[
        bool, typer.Option("--repromote", help="Also allow the build(s) that were rolled back "
                           "to be promoted again (the next cycle re-stages them).")
    ] = False,
) -> None:
    """Let the fleet promote IMAGE again after a rollback. A build that was rolled back is
    not promoted again unless --repromote; a new fix rebuilds as usual."""
    from zerocve.fleet.rollback import resume as resume_image

    runner = _runner(store)
    with runner.store:
        done = resume_image(runner, image, repromote=repromote)
    lines = [f"{image}: resumed" if done.was_held or done.repromoted else f"{image}: was not held"]
    lines += [f"{image}: {d} will be promoted again" for d in done.repromoted]
    lines += [f"{image}: {d} was rolled back and stays off (--repromote allows it)"
              for d in done.refused]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
