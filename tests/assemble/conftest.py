"""Real packages for the build tests: resolved from the loopback apt repository (the lead's
``apt_repo`` fixture) with zerocve's own repository client and resolver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from zerocve.debian.model import BinaryPackage
from zerocve.debian.repo import RepoClient
from zerocve.debian.resolve import resolve
from zerocve.spec import Contents, RepositorySpec

Closure = list[tuple[BinaryPackage, Path]]


@pytest.fixture(scope="session")
def closure(apt_repo: AptRepo, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Closure]:
    """``closure([names])``: the resolved packages with their .deb paths in the pool."""
    cache = tmp_path_factory.mktemp("build-debs")
    repo = RepositorySpec(uri=apt_repo.uri, suites=list(apt_repo.suites),
                          keyring=str(apt_repo.keyring))
    seen: dict[tuple[str, ...], Closure] = {}

    def get(names: list[str]) -> Closure:
        if tuple(names) not in seen:
            with RepoClient(cache) as client:
                indices = client.fetch_indices([repo], apt_repo.arch)
                packages = [p for index in indices for p in index.packages]
                chosen = resolve(names, packages, apt_repo.arch,
                                 exclude=Contents(packages=names).exclude)
            # The pool file as the repository holds it (the fetcher has its own tests).
            seen[tuple(names)] = [(p, apt_repo.root / p.filename) for p in chosen]
        return seen[tuple(names)]

    return get
