"""`zerocve sbom`: an SPDX or CycloneDX SBOM of an image, a root filesystem or an SBOM."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from zerocve import api
from zerocve.cli._app import app, console_err, settings
from zerocve.cli._options import FileOption, PlatformOption
from zerocve.cli._output import write_output
from zerocve.inventory.sbom_reader import read_sbom
from zerocve.inventory.targets import kind_of
from zerocve.outputs import OutputKind, check_file
from zerocve.sbom import lock_checksums, render_sbom


class SbomOutput(StrEnum):
    SPDX_JSON = "spdx-json"
    CYCLONEDX_JSON = "cyclonedx-json"


_KINDS = {SbomOutput.SPDX_JSON: OutputKind.SPDX, SbomOutput.CYCLONEDX_JSON: OutputKind.CYCLONEDX}


EPILOG = """\
[bold]Targets[/]: an OCI layout ([cyan]oci:DIR[:TAG][/]), an OCI archive
([cyan]oci-archive:FILE[/]; docker-archives from docker/podman save too), a
registry image ([cyan]docker://HOST/REPO:TAG[/], the only kind that uses the
network: the SPDX SBOM published as the image's OCI referrer, by [cyan]zerocve sign[/] or
[cyan]publish --sign[/], is used when there is one; else the image is read), a root
filesystem ([cyan]dir:DIR[/]) or a CycloneDX/SPDX JSON SBOM ([cyan]sbom:FILE[/], e.g. to
convert one into the other). Without a prefix, the
kind is recognised from the path.

[bold]Contents[/]: one package per installed Debian binary package (dpkg status and
status.d/) with its purl (pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12), the
licenses its machine-readable copyright file declares, and its source package
(SPDX GENERATED_FROM, CycloneDX pedigree.ancestors). SOURCE_DATE_EPOCH, when set, fixes
the creation time, so the same image gives the same bytes.

[bold]Examples[/]
  zerocve sbom out/python -o spdx-json --file python.spdx.json
  zerocve sbom docker://127.0.0.1:5000/team/app:1.2 -o cyclonedx-json
  zerocve sbom dir:/srv/rootfs -o spdx-json
  zerocve sbom out/multi --platform linux/arm64 -o cyclonedx-json
  zerocve sbom out/python --lock image.lock.json -o spdx-json   (with .deb SHA256s)

[bold]Exit codes[/]: 0 written; 2 usage error (unknown target, bad option);
3 unreadable target or no dpkg database; 4 internal error (a zerocve bug).
"""


def _published(target: str, platform: str | None) -> bytes | None:
    """For an image in a registry, the SPDX SBOM published as its OCI referrer, if any."""
    kind, location = kind_of(target)
    if kind != "registry":
        return None
    from zerocve.oci.reference import parse_reference
    from zerocve.oci.registry import RegistryClient
    from zerocve.sign import published_sbom

    ref = parse_reference(location)
    with RegistryClient(ref.api_host) as client:
        return published_sbom(client, ref, platform)


@app.command("sbom", epilog=EPILOG)
def sbom(
    target: Annotated[str, typer.Argument(metavar="TARGET", show_default=False)],
    output: Annotated[
        SbomOutput,
        typer.Option("--output", "-o", help="SBOM format.", case_sensitive=False),
    ] = SbomOutput.SPDX_JSON,
    file: FileOption = None,
    platform: PlatformOption = None,
    lock: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="The image's lock file: adds each .deb's SHA256 to packages installed at "
            "the locked version.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a software bill of materials (SPDX 2.3 or CycloneDX 1.6 JSON) for TARGET."""
    if file is not None:
        check_file(file, _KINDS[output])  # before reading the target (checked again on write)
    given = settings()
    published = _published(target, platform) if lock is None else None
    if published is not None and output is SbomOutput.SPDX_JSON:
        write_output(published.decode(), file, _KINDS[output])  # as published, byte for byte
        return
    if published is not None:
        inventory = read_sbom(published, target=target)
    else:
        inventory = api.inventory(target, given, platform=platform)
    for warning in inventory.warnings:
        given.reporter.note(f"warning: {warning}")
    checksums = lock_checksums(api.read_lock(lock), inventory) if lock is not None else None
    text = render_sbom(inventory, output.value,  # type: ignore[arg-type]
                       checksums=checksums, epoch=given.source_date_epoch)
    write_output(text, file, _KINDS[output])
    if file is not None:
        console_err.print(
            f"wrote {output.value} SBOM of {len(inventory.packages)} packages to {file}",
            highlight=False,
        )
