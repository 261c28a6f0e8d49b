"""`zerocve key generate`: an ECDSA P-256 key pair in cosign's files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zerocve.cli._app import app, console
from zerocve.cli._keys import PASSPHRASE_ENV, PassphraseEnvOption, passphrase
from zerocve.sign.keys import PrivateKey, write_key_pair

key_app = typer.Typer(help="Manage signing keys.", no_args_is_help=True)
app.add_typer(key_app, name="key")

EPILOG = """\
[bold]Examples[/]
  COSIGN_PASSWORD=... zerocve key generate              writes cosign.key and cosign.pub
  zerocve key generate --output keys/release            prompts for the passphrase

The private key is cosign's encrypted format (scrypt + NaCl secretbox around PKCS#8), read by
cosign, skopeo and podman ([cyan]--sign-by-sigstore-private-key[/]); the public key is a PEM
SubjectPublicKeyInfo, what a [cyan]sigstoreSigned[/] policy's keyPath and
[cyan]zerocve verify --key[/] take.

[bold]Exit codes[/]: 0 written; 2 usage error (a file already exists, no passphrase);
3 cannot write.
"""


@key_app.command("generate", epilog=EPILOG)
def generate(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="PREFIX",
                     help="Write PREFIX.key (mode 0600) and PREFIX.pub."),
    ] = Path("cosign"),
    passphrase_env: PassphraseEnvOption = PASSPHRASE_ENV,
) -> None:
    """Generate an ECDSA P-256 key pair; the private key is encrypted with a passphrase."""
    secret = passphrase(passphrase_env, confirm=True)
    key = PrivateKey.generate()
    private, public = write_key_pair(key, output, secret)
    console.print(f"{private}, {public}: {key.public().keyid}", highlight=False, soft_wrap=True)
