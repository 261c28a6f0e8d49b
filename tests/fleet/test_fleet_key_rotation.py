"""`zerocve fleet serve` reads its signing key file at each promotion: a key rotated by
replacing the file signs the next promotion without a restart (the new public key verifies
it, the old one does not), and a key file made invalid or removed fails that promotion with
one line, moves no tag and leaves the daemon running; the key put back, the staged job is
promoted by the next cycle. Real keys (`zerocve key generate`), the registry fixture, podman
staging, the daemon as a process driven by its webhook."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from test_fleet_e2e import cycles_done, free_port, wait_for
from test_promote import tag_digest

from support.aptrepo import AptRepo
from support.fleetkit import osv_db, write_spec
from support.registry import Registry
from support.signing import PASSPHRASE, make_key_pair, zerocve

pytestmark = pytest.mark.slow

TOKEN = "rotation-webhook-token-0123456789"


def test_a_rotated_key_signs_the_next_promotion_and_a_broken_one_moves_no_tag(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
    old, new = make_key_pair(tmp_path / "old", "old"), make_key_pair(tmp_path / "new", "new")
    key = tmp_path / "cosign.key"
    shutil.copy(old.private, key)
    env = {**osv_db(tmp_path / "user", "tzdata", "9999z-1"), "COSIGN_PASSWORD": PASSPHRASE}
    spec = write_spec(tmp_path, "app", apt_repo, ["dash"], entrypoint={"command": "/bin/dash"},
                      test=[["/bin/sh", "-c", "echo ok"]])  # fmt: skip
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump({
        "images": [{"spec": "app.yaml", "name": "app", "repository": f"{registry.host}/rot/app"}],
        "signing": {"key": key.name},
        "watch": {"interval": "1h"},  # cycles on the webhook only
    }))
    reference = f"{registry.host}/rot/app:latest"
    (tmp_path / "token").write_text(TOKEN + "\n")
    port = free_port()

    def latest() -> str | None:
        return tag_digest(registry.host, "rot/app", "latest")

    def verifies(public: Path) -> bool:
        done = zerocve("verify", reference, "--key", str(public), home=tmp_path, env=env)
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0

    def cycle(entrypoint: str | None = None) -> dict:
        """Edit the spec (when given), ask for a check, and return the cycle's log line."""
        if entrypoint is not None:
            edited = yaml.safe_load(spec.read_text())
            edited["entrypoint"] = {"command": entrypoint}
            spec.write_text(yaml.safe_dump(edited))
        done = cycles_done(tmp_path)
        answer = httpx.post(f"http://127.0.0.1:{port}/hooks/check",
                            headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert answer.status_code == 202
        wait_for("the cycle", lambda: cycles_done(tmp_path) > done)
        lines = (tmp_path / "serve.log").read_text().splitlines()
        return [json.loads(line) for line in lines if '"cycle done"' in line][-1]

    log = (tmp_path / "serve.log").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "zerocve", "fleet", "serve", str(fleet),
         "--listen", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "token")],
        env=env, stderr=log, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for("the first promotion", lambda: cycles_done(tmp_path) > 0)
        first = latest()
        assert first is not None and verifies(old.public) and not verifies(new.public)

        shutil.copy(new.private, tmp_path / "cosign.key.new")
        (tmp_path / "cosign.key.new").replace(key)  # rotated as cosign users do: a new file
        assert cycle("/bin/dash -c 'echo two'")["errors"] == []
        second = latest()
        assert second not in (None, first)
        assert verifies(new.public) and not verifies(old.public)

        key.write_text("not a key\n")
        broken = cycle("/bin/dash -c 'echo three'")
        assert broken["errors"] == [f"app: staged step: {key}: not a PEM private key"]
        assert latest() == second and daemon.poll() is None
        key.unlink()
        gone = cycle()
        assert gone["errors"] == [f"app: staged step: {key}: no such private key file"]
        assert latest() == second and daemon.poll() is None

        shutil.copy(new.private, key)  # put back: the staged job is promoted, signed
        assert cycle()["errors"] == []
        third = latest()
        assert third not in (None, first, second)
        assert verifies(new.public) and not verifies(old.public)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
        log.close()
