#!/usr/bin/env python3
"""What reading the fleet's signing key at every promotion costs (``zerocve.fleet.signing_key``:
the file read and hashed, the opened key reused while its bytes are the same), beside what
`fleet serve` did once at start and does now once per rotation (open the cosign key: an
scrypt) and beside one ECDSA signature (a promotion makes one per signature and attestation).
CPU time per call, least of several rounds; one thread.

python3 bench/signing_key.py [--calls N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zerocve.fleet.signing_key import SigningKeyFile
from zerocve.sign.keys import PrivateKey, load_private_key

ROUNDS = 5
PASSPHRASE = b"bench"


def per_call(work: Callable[[], object], calls: int) -> float:
    """Least CPU seconds per call over ``ROUNDS`` rounds of ``calls`` calls."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(calls):
            work()
        best = min(best, (time.process_time() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (cheap ones)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cosign.key"
        key = PrivateKey.generate()
        path.write_bytes(key.encrypted_pem(PASSPHRASE))
        source = SigningKeyFile(path, PASSPHRASE)
        source.signer()  # opened once, as at start
        payload = os.urandom(512)  # about a cosign simple-signing payload
        read = per_call(source.signer, args.calls)
        opened = per_call(lambda: load_private_key(path, PASSPHRASE), 3)
        signed = per_call(lambda: key.sign(payload), args.calls // 4)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"key file read per promotion (same bytes)     {read * 1e6:10.1f} µs CPU")
    print(f"key opened (at start, and once per rotation) {opened * 1e6:10.1f} µs CPU "
          f"({opened / read:.0f}x the read)")
    print(f"one ECDSA P-256 signature                    {signed * 1e6:10.1f} µs CPU "
          f"(the read is {read / signed:.2f} of it)")


if __name__ == "__main__":
    main()
