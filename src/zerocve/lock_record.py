"""Verified-lock records: a lock that passed ``verify_lock`` against exactly these inputs is
not verified again.

``verify_lock`` resolves the spec again over every pinned index, which for a spec on the
host's mirror means the universe of the whole bookworm index (2.5 s): a no-change rebuild
spent most of its time proving again what it had proved the time before. Once a verification
passes, a record is kept at ``<cache>/verified-locks/<key>.json``, where ``key`` is the
SHA256 of every input the verdict depended on:

* the verifier's code (a digest of every zerocve module, given by the caller);
* the spec (its whole model) and the lock (as ``dumps_lock`` writes it), which pins each
  index by its SHA256 and each Release by the SHA256 of its signed text;
* the signed Release files the verification reads back from the cache (``release_store``),
  byte for byte: a kept Release altered since is verified again, and refused;
* the repositories it was checked against (URI, suites, components, keyring path) and the
  bytes of each keyring.

Change any of them and the key changes: no record is found, and the lock is verified in full.
A record holds its key again, what the verification found (each architecture's Debian
release, for /etc/os-release) and the machine's seal over all that (``zerocve.cache_seal``: a
checksum alone would be recomputed by whoever plants a record for a hand-edited lock); one
that is truncated, edited, planted or copied under another key's name does not verify, is
ignored, and is replaced once the lock has been verified in full again. Nothing here executes
what it reads.

gpgv's verdict also depends on the time: a key that expires is refused from then on. A record
is therefore good only until the first expiry date of a key in the keyrings that had not
passed when it was written; when gpg cannot list them, no record is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from zerocve.cache_seal import CacheSeal, SealedRecords
from zerocve.debian.gpg import key_expiries
from zerocve.debian.release_store import ReleaseStore
from zerocve.debian.releases import DebianRelease
from zerocve.errors import RepositoryError
from zerocve.lock import Lock, dumps_lock
from zerocve.spec import ImageSpec, RepositorySpec

_FORMAT = "zerocve-verified-lock 2"
# Records are a few hundred bytes: this keeps thousands, the least recently used go first.
MAX_BYTES = 4 << 20


def record_key(
    spec: ImageSpec, lock: Lock, repositories: Sequence[RepositorySpec], code: str,
    kept: ReleaseStore,
) -> str | None:
    """The SHA256 of everything a verification of ``lock`` depends on (see the module
    docstring); None when a keyring cannot be read (the verification will say why)."""
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        # Length-prefixed, so that no two lists of inputs hash as the same stream.
        digest.update(len(data).to_bytes(8, "big") + data)

    for text in (_FORMAT, code, spec.model_dump_json(), dumps_lock(lock)):
        part(text.encode())
    for repository in repositories:
        part(repository.model_dump_json().encode())
        try:
            part(Path(repository.keyring).read_bytes() if repository.keyring else b"")
        except OSError:
            return None
    pinned = sorted({(i.uri, i.suite, i.release_sha256)
                     for locked in lock.archs.values() for i in locked.indices})
    for uri, suite, release_sha256 in pinned:
        try:
            signed = kept.load(uri, suite, release_sha256)
        except RepositoryError:
            return None
        for name, data in sorted(signed.files().items()) if signed else ():
            part(name.encode())
            part(data)
    return digest.hexdigest()


def keyring_expiries(repositories: Sequence[RepositorySpec], now: datetime) -> list[int] | None:
    """When each key of ``repositories``' keyrings that has not expired at ``now`` expires
    (seconds since 1970): a verdict of gpgv holds until the first of them. None when gpg
    cannot list a keyring, or a repository has none."""
    expiries = []
    for repository in repositories:
        found = key_expiries(Path(repository.keyring)) if repository.keyring else None
        if found is None:
            return None
        expiries += [when for when in found if when > now.timestamp()]
    return expiries


class VerifiedLocks:
    """The records below ``cache_dir``."""

    def __init__(self, cache_dir: Path, seal: CacheSeal) -> None:
        self.records = SealedRecords(cache_dir / "verified-locks", seal, _FORMAT, MAX_BYTES)

    def load(
        self, key: str, archs: Sequence[str], now: datetime
    ) -> dict[str, DebianRelease | None] | None:
        """The Debian release of each of ``archs`` the verification recorded under ``key``
        found; None when there is no record, it does not hold exactly this, or it has
        lapsed at ``now``."""
        try:
            body = self.records.load(key)
            releases = None if body is None else _checked(body, archs, now)
        except (ValueError, KeyError, TypeError):
            return None  # damaged: verify in full, then write it again
        if releases is not None:
            self.records.touch(key)
        return releases

    def store(
        self, key: str, releases: Mapping[str, DebianRelease | None],
        repositories: Sequence[RepositorySpec], now: datetime,
    ) -> None:
        """Record that the lock of ``key`` verified, finding ``releases``. Best effort: a
        cache that cannot be written only costs the next build the verification."""
        expiries = keyring_expiries(repositories, now)
        if expiries is None:
            return  # gpg cannot say how long the signatures hold: keep nothing
        self.records.store(key, {
            "until": min(expiries, default=None),
            "releases": {
                arch: None if r is None else {"codename": r.codename, "version_id": r.version_id}
                for arch, r in sorted(releases.items())
            },
        })


def _checked(
    body: Mapping[str, Any], archs: Sequence[str], now: datetime
) -> dict[str, DebianRelease | None] | None:
    """The releases of a record sealed here (so written by ``store``), if it is for ``archs``
    and has not lapsed at ``now``."""
    if set(body["releases"]) != set(archs):
        return None
    until = body["until"]
    if until is not None and now.timestamp() >= int(until):
        return None
    return {
        arch: None if r is None else DebianRelease(str(r["codename"]), str(r["version_id"]))
        for arch, r in body["releases"].items()
    }


__all__ = ["MAX_BYTES", "VerifiedLocks", "keyring_expiries", "record_key"]
