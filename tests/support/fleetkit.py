"""Fleet test helpers: specs on the loopback apt repository, images built and pushed to the
registry fixture through the real pipeline."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from support.aptrepo import AptRepo
from zerocve.assemble.image import write_layout
from zerocve.oci.reference import parse_reference
from zerocve.oci.registry import RegistryClient
from zerocve.pipeline import build_spec
from zerocve.progress import NULL_REPORTER
from zerocve.publish import push_layout


def write_spec(
    directory: Path, name: str, repo: AptRepo, packages: list[str], **extra: Any
) -> Path:
    """An image spec named ``NAME.yaml`` in ``directory`` that uses the loopback repository."""
    spec = {
        "contents": {
            "repositories": [
                {
                    "uri": repo.uri,
                    "suites": list(repo.suites),
                    "components": ["main"],
                    "keyring": str(repo.keyring),
                }
            ],
            "packages": packages,
        },
        **extra,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def push_spec(spec: Path, reference: str) -> str:
    """Build ``spec`` and push it to ``reference``; the image's digest."""
    ref = parse_reference(reference)
    with tempfile.TemporaryDirectory(prefix="fleet-test-") as scratch:
        layout = build_layout(spec, Path(scratch) / "layout", ref.tag or "latest")
        with RegistryClient(ref.api_host) as client:
            return push_layout(layout, ref, client).digest


def build_layout(spec: Path, directory: Path, tag: str = "latest") -> Path:
    """Build ``spec`` into the OCI layout ``directory``."""
    built, _ = build_spec(spec, locked=False, ignore_valid_until=False, reporter=NULL_REPORTER)
    return write_layout(built, directory, tag)
