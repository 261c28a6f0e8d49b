"""The fleet's signing key, read from its file at every promotion.

cosign users rotate a key by replacing its file, and ``fleet serve`` runs for weeks: the file
is read again for each promotion (a few hundred bytes), so a replaced key signs from the next
promotion on, without a restart. Opening a cosign key costs an scrypt (tens of milliseconds,
32 MiB): the opened key is kept, keyed by the SHA256 of the file's bytes, so the same bytes
are opened once and other bytes never get the old key. A file gone, unreadable or not a key
fails that promotion with one line (a ``ZerocveError``: the job stays staged, no tag moves,
the next cycle tries again), and the daemon goes on.

The passphrase is read once, at start (``$COSIGN_PASSWORD``): a new key sealed with another
passphrase fails its promotions with "wrong passphrase" until the daemon is restarted with it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from zerocve.sign.keys import PrivateKey, parse_private_key, read_key_file


@dataclass
class SigningKeyFile:
    path: Path
    passphrase: bytes = field(repr=False)
    # (SHA256 of the file's bytes, the key they open to): what was opened last.
    _opened: tuple[bytes, PrivateKey] | None = field(default=None, init=False, repr=False)
    # Images promote in parallel: one of them opens a new key, the others wait for it.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def signer(self) -> PrivateKey:
        """The key the file holds now."""
        data = read_key_file(self.path, "private key")
        digest = hashlib.sha256(data).digest()
        with self._lock:
            if self._opened is None or self._opened[0] != digest:
                self._opened = (digest, parse_private_key(data, self.passphrase, self.path))
            return self._opened[1]
