"""What a ``zerocve build`` depended on, gathered as it runs, for its receipt
(``zerocve.receipt``; kept by ``zerocve.cli._front``).

Each input is hashed before the build reads it: an input edited meanwhile is recorded as it
was before, and the receipt it ends in never matches. A build gets no receipt when its
result depends on what a receipt cannot check: a lock re-resolved against the live indices
(none beside the spec, or a stale one), a scan (the DB and the live indices decide the
gate), progress bars drawn on a terminal, or an output this run changed (its printed notes
are not the ones a rerun prints).

A spec that names no repository uses the host's apt sources: its receipt holds every file
``host_repositories`` may read (present, or absent), the listings of ``sources.list.d`` and
``trusted.gpg.d`` (a file added or removed there is a miss) and the keyrings the resolved
repositories name.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zerocve.cli import _front
from zerocve.receipt import Receipt, Snapshot, file_sha256, listing_sha256, settled, snapshot

if TYPE_CHECKING:
    from zerocve.lock import Lock
    from zerocve.settings import Settings
    from zerocve.spec import ImageSpec, RepositorySpec


class BuildFacts:
    """One build's inputs, absences and outputs; ``failed`` once something it depends on
    cannot be checked by a receipt."""

    def __init__(self) -> None:
        self.inputs: dict[str, str] = {}
        self.absent: list[str] = []
        self.listings: dict[str, str] = {}
        self.repositories: list[RepositorySpec] = []
        self.before: list[tuple[str, Snapshot | None]] = []
        self.failed = False

    @classmethod
    def start(cls, spec_path: Path, lock_path: Path) -> BuildFacts | None:
        """Facts for a build whose receipt may be kept (the front door records it), with the
        spec and the lock read; else None."""
        if not _front.recording():
            return None
        facts = cls()
        facts.read(spec_path)
        facts.read(lock_path)
        return facts

    def read(self, path: Path) -> None:
        digest = file_sha256(path)
        if digest is None:
            self.failed = True
        else:
            self.inputs.setdefault(str(path), digest)

    def read_if_present(self, path: Path) -> None:
        if os.path.lexists(path):
            self.read(path)
        else:
            self.absent.append(str(path))

    def list_dir(self, directory: Path) -> None:
        digest = listing_sha256(directory)
        if digest is not None:
            self.listings.setdefault(str(directory), digest)
        elif os.path.lexists(directory):
            self.failed = True
        else:
            self.absent.append(str(directory))

    def spec_loaded(self, spec: ImageSpec, settings: Settings) -> None:
        """The keyrings of the repositories the build uses: the spec's own, else the host's
        apt sources', with every apt file and directory they were resolved from."""
        from zerocve import api
        from zerocve.debian.sources import host_inputs
        from zerocve.errors import ZerocveError

        if spec.contents.repositories is None:
            files, directories = host_inputs(settings.apt_dir)
            for directory in directories:  # before the files: one added meanwhile is a miss
                self.list_dir(directory)
            for path in files:
                self.read_if_present(path)
        try:
            self.repositories = api.repositories_of(spec, settings)
        except ZerocveError:  # the build reports it
            self.failed = True
            return
        if any(not r.keyring for r in self.repositories):
            self.failed = True
            return
        for repository in self.repositories:
            self.read(Path(str(repository.keyring)))

    def lock_chosen(self, lock: Lock, lock_path: Path, settings: Settings) -> None:
        """The kept signed Releases the lock's verification reads, when the lock is the file's
        own (else the build re-resolved: no receipt)."""
        from zerocve.debian.release_store import ReleaseStore
        from zerocve.lock import dumps_lock

        used = hashlib.sha256(dumps_lock(lock).encode()).hexdigest()
        if used != self.inputs.get(str(lock_path)):
            self.failed = True
            return
        kept = ReleaseStore(settings.cache_dir)
        for arch in lock.archs.values():
            for index in arch.indices:
                for path in kept.kept_paths(index.uri, index.suite, index.release_sha256).values():
                    if path.exists():
                        self.read(path)
                    else:
                        self.absent.append(str(path))

    def writing(self, outputs: Sequence[Path]) -> None:
        """What is at each output path before the build writes it."""
        self.before = [(str(path), snapshot(path)) for path in outputs]

    def scanning(self, no_scan: bool, settings: Settings) -> None:
        """A scan decides the gate from the DB and the live indices: no receipt; without a DB
        the build only notes it, and the DB must stay absent."""
        if no_scan:
            return
        if settings.db_path.exists():
            self.failed = True
        else:
            self.absent.append(str(settings.db_path))

    def done(self, settings: Settings) -> None:
        """Hand the receipt's facts to the front door, when the build changed no output."""
        from zerocve.lock_record import keyring_expiries

        if getattr(settings.reporter, "drew", False):  # progress bars ran: not repeatable
            return
        after = [(path, snapshot(Path(path))) for path, _ in self.before]
        outputs = [(path, entries) for path, entries in after if entries is not None]
        if self.failed or after != self.before or len(outputs) != len(after):
            return
        if not settled(outputs, time.time_ns()):  # file times: the real clock, not settings'
            return
        expiries = keyring_expiries(self.repositories, settings.clock())
        if expiries is None:
            return
        _front.record(Receipt(
            inputs=tuple(sorted(self.inputs.items())),
            absent=tuple(sorted(set(self.absent))),
            listings=tuple(sorted(self.listings.items())),
            outputs=tuple(outputs),
            until=min(expiries, default=None),
            printed=(),
        ))


__all__ = ["BuildFacts"]
