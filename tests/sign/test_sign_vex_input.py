"""`zerocve sign --vex` reads VEX files with the scan's reader (``zerocve.vuln.vex``): a bad
file is the same one line, exit 3, in both commands, before a key is opened or a registry
is asked anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.ocilayout import make_layout
from support.signing import KeyPair, zerocve

pytestmark = pytest.mark.slow

UNREACHABLE = "127.0.0.1:9/never/asked@sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", ":1:2: invalid JSON"),
        ('{"@context": "https://cyclonedx.org"}', ": not an OpenVEX document (@context"),
        ('{"@context": "https://openvex.dev/ns/v0.2.0", "timestamp": "2025-01-01T00:00:00Z",'
         ' "statements": [{"status": "fixed", "products": []}]}',
         ": statements[0]: vulnerability.name is missing"),
    ],
)
def test_a_bad_vex_is_the_same_line_in_sign_and_scan(
    text: str, message: str, keys: KeyPair, tmp_path: Path
) -> None:
    bad = tmp_path / "triage.vex.json"
    bad.write_text(text)
    signed = zerocve("sign", UNREACHABLE, "--key", str(keys.private), "--vex", str(bad),
                     home=tmp_path)
    layout = make_layout(tmp_path / "layout", {"amd64": [{"etc/x": b"x"}]})
    scanned = zerocve("scan", str(layout.root), "--vex", str(bad), "--db",
                      str(tmp_path / "no.sqlite"), home=tmp_path)
    for done in (signed, scanned):
        assert done.returncode == 3, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert signed.stderr == scanned.stderr
    assert signed.stderr.startswith(f"error: {bad}{message}"), signed.stderr
