"""Key options and the passphrase, shared by `key generate`, `sign` and `publish --sign`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from zerocve.errors import UsageError
from zerocve.sign.keys import PrivateKey, load_private_key

PASSPHRASE_ENV = "COSIGN_PASSWORD"
"""cosign's variable, so that one setting serves both tools."""

PassphraseEnvOption = Annotated[
    str,
    typer.Option(
        "--passphrase-env",
        metavar="VAR",
        help="Environment variable holding the private key's passphrase (prompted for on a "
        "terminal when unset).",
    ),
]


def passphrase(variable: str, *, confirm: bool) -> bytes:
    """The passphrase from ``$variable``, else from a prompt on a terminal."""
    value = os.environ.get(variable)
    if value is not None:
        return value.encode()
    if not sys.stdin.isatty():
        raise UsageError(f"no passphrase: set {variable} (no terminal to prompt on)")
    text: str = typer.prompt("passphrase for the private key", hide_input=True,
                             confirmation_prompt=confirm, default="", show_default=False)
    return text.encode()


def private_key(path: Path, variable: str) -> PrivateKey:
    if not path.is_file():
        raise UsageError(f"{path}: no such private key file")
    return load_private_key(path, passphrase(variable, confirm=False))
