"""The Typer application object, its commands (each imported only when it runs), global
options and the reporter the commands pass to the library."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from zerocve import __version__
from zerocve.cli import _params
from zerocve.progress import Reporter
from zerocve.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    # No emoji codes: ':x:' in a user's value (a passwd-like string, a path) must print as itself.
    return Console(stderr=stderr, emoji=False)


def __getattr__(name: str) -> Console:
    """``console`` (stdout) and ``console_err``, made on first use: a scan writing JSON to a
    pipe prints nothing through rich and need not import it."""
    if name in ("console", "console_err"):
        return _console(name == "console_err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class _State:
    verbose: bool = False
    quiet: bool = False


state = _State()

# Shown by `zerocve --help`; cli.main() is what maps errors to them.
EXIT_CODES = {
    0: "done; for scan, nothing over the gate",
    1: "findings over the gate (--fail-on; publish gates by default)",
    2: "usage error: bad option or value, unknown target, missing file",
    3: "operational failure: unreadable or refused input, repository, registry or DB failure",
    4: "internal error (a zerocve bug): rerun with -v and report the traceback",
}


@dataclass(frozen=True)
class Command:
    module: str  # under zerocve.cli; it registers the command on ``app`` when imported
    summary: str  # the first paragraph of its help, for `zerocve --help` (a test keeps both equal)


# Every command, in the order `zerocve --help` lists them. A command's module is imported
# only when that command runs: start-up time is part of every scan and no-change rebuild, and
# `zerocve scan` has no use for SQLAlchemy, httpx or the image builder.
COMMANDS = {
    "lock": Command("lock_cmd", "Resolve the spec's packages and write the lock file."),
    "build": Command(
        "build_cmd",
        "Build the image a spec describes, as an OCI layout (-o DIR) or an oci-archive "
        "(--tar FILE).",
    ),
    "scan": Command(
        "scan_cmd", "Scan an image, a root filesystem or an SBOM for known vulnerabilities."
    ),
    "publish": Command(
        "publish_cmd",
        "Push an image to a registry with the OCI distribution API: every blob (skipped when "
        "present, mounted with --mount-from, chunked when large), then the manifests by "
        "digest, and the tag last, so it never points at a partial image. Prints REF@DIGEST.",
    ),
    "sbom": Command(
        "sbom_cmd",
        "Write a software bill of materials (SPDX 2.3 or CycloneDX 1.6 JSON) for TARGET.",
    ),
    "diff": Command(
        "diff_cmd",
        "Show what changed from REF1 to REF2: packages added, removed or moved to another "
        "version, and vulnerabilities fixed or introduced (from the local advisory DB).",
    ),
    "sign": Command(
        "sign_cmd",
        "Sign an image in a registry (cosign-compatible) and attach SBOM, provenance and VEX "
        "attestations.",
    ),
    "verify": Command(
        "verify_cmd", "Verify an image's signatures and attestations with a public key."
    ),
    "key": Command("key_cmd", "Manage signing keys."),
    "pin": Command(
        "pin_cmd",
        "Rewrite pinned image references under DIR to the digest each tag has now, printing a "
        "unified diff.",
    ),
    "db": Command(
        "db_cmd",
        "The local advisory DB (OSV + Debian Security Tracker). Scans read it and never touch "
        "the network. Default location: $ZEROCVE_DB, else the user cache dir.",
    ),
    "fleet": Command(
        "fleet_cmd",
        "Keep a fleet of images at zero fixable CVEs: watch the repositories and advisory "
        "feeds, rebuild exactly the images a fix reaches, stage, promote, roll back.",
    ),
}


class _Listed(TyperCommand):
    """A command not imported yet: its name and summary, enough for the group's --help."""


class _LazyGroup(TyperGroup):
    """The click group of ``app``: every command of ``COMMANDS`` is listed from its summary,
    and imported when click resolves it to run (or to show its own --help)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        loaded = dict(self.commands)
        self.commands = {
            name: loaded.get(name) or _Listed(name, help=entry.summary)
            for name, entry in COMMANDS.items()
        }

    def resolve_command(
        self, ctx: Any, args: list[str]
    ) -> tuple[str | None, Any, list[str]]:
        if args and isinstance(self.commands.get(args[0]), _Listed):
            self.commands[args[0]] = load(args[0])
        return super().resolve_command(ctx, args)


def load(name: str) -> Any:
    """The click command (or group) ``name``, its module imported now."""
    # __import__, not importlib.import_module: only the former is seen by `-X importtime`,
    # which the tests read to hold each command to what it imports.
    __import__(f"zerocve.cli.{COMMANDS[name].module}")
    command = typer.main.get_command(app).commands.get(name)  # type: ignore[attr-defined]
    if command is None or isinstance(command, _Listed):
        raise RuntimeError(f"zerocve.cli.{COMMANDS[name].module} did not register {name!r}")
    return command


# Parameter values converted without pydantic: its import alone outweighs a small scan.
_params.install()

app = typer.Typer(
    name="zerocve",
    help=(
        "Minimal, reproducible, zero-CVE OCI images from Debian packages.\n\n"
        "Typical flow: [bold]zerocve lock image.yaml[/] → [bold]zerocve build image.yaml -o out/[/]"
        " → [bold]zerocve scan out/[/] → [bold]zerocve publish image.yaml REGISTRY/REPO:TAG[/]."
    ),
    epilog="[bold]Exit codes[/]\n\n"
    + "\n\n".join(f"{code}  {meaning}" for code, meaning in EXIT_CODES.items()),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        _console(stderr=False).print(f"zerocve {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    state.verbose = verbose
    state.quiet = quiet


class NotesReporter(Reporter):
    """Notes on stderr (unless --quiet), no progress bars."""

    def note(self, message: str) -> None:
        if not state.quiet:
            _console(stderr=True).print(f"[dim]{message}[/]", highlight=False)


def reporter() -> Reporter:
    """Progress bars when stderr is a terminal and not --quiet, else notes alone."""
    if not state.quiet and _console(stderr=True).is_terminal:
        from zerocve.cli._progress import RichReporter

        return RichReporter()
    return NotesReporter()


def settings(**given: Any) -> Settings:
    """Settings from the environment, with the options the user gave (None: not given)
    winning over it, and progress bars on stderr."""
    return Settings.from_env(reporter=reporter(),
                             **{name: value for name, value in given.items() if value is not None})
