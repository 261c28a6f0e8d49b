"""Every error zerocve raises on purpose, rooted at one class.

The CLI catches ``ZerocveError`` in one place and prints ``diagnostics()`` as one line on
stderr (the traceback only under ``--verbose``); third-party errors are converted at the
boundary with ``raise ... from e``.

    ZerocveError                    exit 3 unless noted
    ├── UsageError                  exit 2: bad arguments or a target of the wrong kind
    ├── SpecError                   the image spec or fleet file: file, field path, what is wrong
    ├── RepositoryError             apt repository: fetch, signature, index, hash
    │   ├── SignatureError          InRelease / Release.gpg did not verify
    │   ├── IntegrityError          a file's size or SHA256 differs from what signed data says
    │   └── FetchError              network or HTTP failure after retries
    ├── ResolutionError             dependency closure impossible; carries the chain
    ├── LockError                   lock file unreadable, or stale under --locked
    ├── PackageError                a .deb that is malformed or unsafe (path traversal, devices)
    ├── BuildError                  assembling the root filesystem or the image
    ├── CacheError                  the cache directory cannot be created or written (full)
    ├── RegistryError               OCI distribution API failures
    ├── ImageError                  an OCI layout, oci-/docker-archive or image document that is
    │                               unreadable or malformed, or holds no image for the request
    ├── AdvisoryError               advisory DB or feed: unreadable, malformed, unreachable
    ├── InventoryError              a scan/SBOM target with no readable package database
    ├── VexError                    an OpenVEX document that is unreadable or malformed
    ├── StageError                  a staging run that could not run its tests (podman, pull)
    ├── GitError                    a git command (zerocve pin --commit) that failed
    ├── StoreError                  the fleet's state store: unreachable, migration, conflict
    ├── FleetError                  a fleet operation: unknown image, nothing to roll back to
    ├── SigningError                a key, signature or attestation: unreadable, wrong
    │   │                           passphrase, malformed, or not made by the key
    │   └── VerificationError       exit 1: an image's signature or attestations do not hold
    └── GateError                   exit 1: findings over the gate (not an operational failure)
"""

from __future__ import annotations


class ZerocveError(Exception):
    """Root of every error zerocve raises on purpose."""

    exit_code = 3

    def diagnostics(self) -> str:
        """One line for the user: what went wrong and where."""
        return str(self)


class UsageError(ZerocveError):
    exit_code = 2


class SpecError(ZerocveError):
    pass


class RepositoryError(ZerocveError):
    pass


class SignatureError(RepositoryError):
    pass


class IntegrityError(RepositoryError):
    pass


class FetchError(RepositoryError):
    pass


class ResolutionError(ZerocveError):
    """The closure cannot be built; ``chain`` lists the requirements that led to the failure,
    outermost first (e.g. ``["python3", "libpython3.11-stdlib (= 3.11.2-6)"]``)."""

    def __init__(self, message: str, chain: list[str] | None = None) -> None:
        super().__init__(message)
        self.chain = chain or []

    def diagnostics(self) -> str:
        if not self.chain:
            return str(self)
        return " → ".join(self.chain) + ": " + str(self)


class LockError(ZerocveError):
    pass


class PackageError(ZerocveError):
    pass


class BuildError(ZerocveError):
    pass


class CacheError(ZerocveError):
    pass


class RegistryError(ZerocveError):
    pass


class ImageError(ZerocveError):
    pass


class AdvisoryError(ZerocveError):
    pass


class InventoryError(ZerocveError):
    pass


class VexError(ZerocveError):
    pass


class StageError(ZerocveError):
    pass


class GitError(ZerocveError):
    pass


class StoreError(ZerocveError):
    pass


class FleetError(ZerocveError):
    pass


class SigningError(ZerocveError):
    pass


class VerificationError(SigningError):
    """What was asked to be verified does not hold (as a gate finding, not an outage)."""

    exit_code = 1


class GateError(ZerocveError):
    exit_code = 1
