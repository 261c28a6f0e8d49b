"""An unprivileged user builds the identical image: CI runs the suite as root, creates a user
without privileges and builds the same spec and lock as that user, then compares digests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.unprivileged import user_directory, user_id, zerocve_as_user

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="run as root: the suite creates the user"),
]
STATIC = ["base-files", "netbase", "tzdata", "ca-certificates"]


def test_an_unprivileged_user_builds_the_same_digest(
    apt_repo: AptRepo, tmp_path: Path, spec_file
) -> None:
    with user_directory() as home:
        keyring = home / "keyring.gpg"
        shutil.copy(apt_repo.keyring, keyring)
        spec = home / "image.yaml"
        spec.write_text(spec_file(STATIC, http=True).read_text()
                        .replace(str(apt_repo.keyring), str(keyring)))
        root_env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "root-cache")}

        def as_root(*args: str) -> str:
            done = subprocess.run([sys.executable, "-m", "zerocve", *args], capture_output=True,
                                  text=True, env=root_env, check=False)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        as_root("lock", str(spec))
        digest = as_root("build", str(spec), "--locked", "--no-scan", "-o", str(tmp_path / "out"))
        uid = user_id()
        for path in home.iterdir():
            os.chown(path, uid, uid)
        user = zerocve_as_user("build", str(spec), "--locked", "--no-scan", "-o",
                               str(home / "out"),
                               env={"HOME": str(home), "ZEROCVE_CACHE_DIR": str(home / "cache")})
        assert user.returncode == 0, user.stderr
        assert user.stdout.strip() == digest
        assert (home / "out" / "index.json").stat().st_uid == uid  # really built as the user
