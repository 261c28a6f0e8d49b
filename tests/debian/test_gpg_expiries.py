"""How long a keyring's keys stay valid, as gpg lists them (zerocve.debian.gpg.key_expiries):
what verified-lock records and build receipts lapse by."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.aptrepo import SigningKey
from zerocve.debian import gpg


def test_key_expiries_are_listed_once_per_keyring_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpg lists a keyring once per process, by its bytes: the same bytes at another path are
    not listed again, and a keyring edited in place is."""
    lasting = SigningKey.create(tmp_path / "lasting", expire="2y")
    brief = SigningKey.create(tmp_path / "brief", uid="brief <brief@example.invalid>",
                              expire="30d")
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counted(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        runs.append(args)
        return real_run(args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(gpg.subprocess, "run", counted)
    copy = tmp_path / "copy.gpg"
    copy.write_bytes(lasting.keyring.read_bytes())
    (first,) = gpg.key_expiries(lasting.keyring) or [0]
    assert gpg.key_expiries(copy) == [first]
    assert len(runs) == 1
    in_two_years = datetime.now(UTC).timestamp() + 2 * 365 * 86400
    assert abs(first - in_two_years) < 3 * 86400
    copy.write_bytes(brief.keyring.read_bytes())  # edited in place: listed anew
    (soon,) = gpg.key_expiries(copy) or [0]
    assert len(runs) == 2 and soon < first
    assert gpg.key_expiries(tmp_path / "missing.gpg") is None
