"""Promotion signs: with ``signing: {key: …}`` in the fleet file, `fleet run --once` signs the
new digest and attaches its SBOM, provenance and VEX attestations before any tag moves, and
`zerocve verify` accepts the promoted tag with the public key. A registry that refuses the
signature leaves every tag where it was (one error line, exit 3, the job kept at its step);
the next run signs and promotes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from test_promote import tag_digest

from support.aptrepo import AptRepo
from support.faultproxy import ANSWER_500, FaultProxy
from support.fleetkit import osv_db, write_spec
from support.registry import Registry
from support.signing import make_key_pair, zerocve
from zerocve.sign.statement import CYCLONEDX, SLSA_PROVENANCE, SPDX

pytestmark = pytest.mark.slow


def test_promotion_signs_and_attests_before_the_tag_moves(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    keys = make_key_pair(tmp_path, "fleet")
    env = osv_db(tmp_path / "user", "tzdata", "9999z-1")
    write_spec(tmp_path, "app", apt_repo, ["dash"], test=[["/bin/sh", "-c", "echo ok"]])
    failing = {"on": True}

    def signature_refused(method: str, path: str, seen: int) -> str | None:
        refuse = failing["on"] and method == "PUT" and path.endswith(".sig")
        return ANSWER_500 if refuse else None

    with FaultProxy(registry.host, signature_refused) as proxy:
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(yaml.safe_dump({
            "images": [{"spec": "app.yaml", "name": "app", "repository": f"{proxy.host}/s/app"}],
            "signing": {"key": keys.private.name},
        }))
        refused = zerocve("fleet", "run", str(fleet), "--once", home=tmp_path, env=env)
        assert refused.returncode == 3, refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith("error: app: staged step: ") and ".sig: HTTP 500" in line
        assert tag_digest(registry.host, "s/app", "latest") is None  # no tag moved
        failing["on"] = False
        done = zerocve("fleet", "run", str(fleet), "--once", home=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "app: job 1 promoted"

        # The signature names the repository as the fleet pushed it: verify by that name.
        digest = tag_digest(registry.host, "s/app", "latest")
        assert digest is not None
        verified = zerocve("verify", f"{proxy.host}/s/app:latest", "--key", str(keys.public),
                           "-o", "json", home=tmp_path, env=env)
        assert verified.returncode == 0, verified.stderr
        report = json.loads(verified.stdout)
        assert report["ok"] is True
        attested = {(a["digest"], a["predicateType"]) for a in report["attested"]}
        assert {(digest, SPDX), (digest, CYCLONEDX), (digest, SLSA_PROVENANCE)} <= attested

        (tmp_path / "other").mkdir()
        other = make_key_pair(tmp_path / "other", "other")  # and not by just any key
        refused_key = zerocve("verify", f"{proxy.host}/s/app:latest", "--key",
                              str(other.public), home=tmp_path, env=env)
        assert refused_key.returncode == 1

    with sqlite3.connect(tmp_path / "user" / "state" / "fleet.sqlite") as db:
        rows = list(db.execute("SELECT kind, data FROM events WHERE kind IN "
                               "('error', 'promoted') ORDER BY id"))
    assert [kind for kind, _ in rows] == ["error", "promoted"]
    signed = json.loads(rows[1][1])["signed"]
    assert f"signature of {digest[:19]}: added" in signed
