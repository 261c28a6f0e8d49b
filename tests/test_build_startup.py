"""A cold ``zerocve build``'s start-up: the indices download while the rest of the command
imports (``api.lock_for_build``), and nothing of that changes what is reported first or how."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from support.aptrepo import AptRepo
from support.httpkit import WebServer, answer

# ``python -c _TRACED DIR ARGS...`` runs the CLI on ARGS with an audit hook that records into
# DIR/events.json the order in which the HTTP client and the image builder begin to be
# imported, and creates DIR/builder as the builder's import begins.
_TRACED = """
import json, sys
from pathlib import Path
where, events = Path(sys.argv[1]), []
def hook(event, args):
    if event == "import" and args[0] in ("zerocve.debian.http_get", "zerocve.assemble.image"):
        events.append(args[0])
        if args[0] == "zerocve.assemble.image":
            (where / "builder").touch()
sys.addaudithook(hook)
sys.argv = ["zerocve", *sys.argv[2:]]
from zerocve.cli import main
try:
    main()
finally:
    (where / "events.json").write_text(json.dumps(events))
"""


class HeldUntil:
    """A route that holds back the answer to its path until ``marker`` exists (or 30 s pass),
    remembering whether it had to wait that long."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.timed_out = False

    def __call__(self, handler: SimpleHTTPRequestHandler) -> None:
        deadline = time.monotonic() + 30
        while not self.marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.timed_out = not self.marker.exists()
        SimpleHTTPRequestHandler.do_GET(handler)


@pytest.fixture
def server(apt_repo: AptRepo) -> Iterator[WebServer]:
    """The loopback repository behind a server that records every path it is asked for."""
    web = WebServer(apt_repo.root)
    yield web
    web.close()


def _spec(path: Path, apt_repo: AptRepo, uri: str, **extra: object) -> Path:
    path.write_text(yaml.safe_dump({
        "contents": {
            "repositories": [{"uri": uri, "suites": list(apt_repo.suites),
                              "keyring": str(apt_repo.keyring)}],
            "packages": ["tzdata"],
        },
        **extra,
    }))
    return path


def _index(apt_repo: AptRepo) -> str:
    """The path of the first suite's index, as a client asks for it (gzip preferred)."""
    return f"/dists/{apt_repo.suites[0]}/main/binary-{apt_repo.arch}/Packages.gz"


def _build(spec: Path, out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-m", "zerocve", "-q", "build", str(spec), "-o",
                           str(out)], capture_output=True, text=True, env=env, check=False)


def test_a_cold_build_imports_the_image_builder_while_the_indices_download(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path
) -> None:
    """The image builder (some 50 ms of imports) is imported once the index downloads are
    about to start (after the HTTP client), and while they run: here the server holds the
    index back until the builder's import has begun, which a build that imported it only
    after its lock would never do."""
    spec = _spec(tmp_path / "image.yaml", apt_repo, server.uri)
    held = HeldUntil(tmp_path / "builder")
    server.routes[_index(apt_repo)] = held
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", _TRACED, str(tmp_path), "-q", "build", str(spec), "-o",
         str(tmp_path / "out")], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:")
    events = json.loads((tmp_path / "events.json").read_text())
    assert events == ["zerocve.debian.http_get", "zerocve.assemble.image"]
    assert _index(apt_repo) in server.paths()
    assert not held.timed_out


@pytest.mark.parametrize("broken", ["spec", "lock"])
def test_a_bad_spec_or_lock_is_reported_before_any_request(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path, broken: str
) -> None:
    """The index downloads start only once the spec and the lock beside it have been read:
    a mistake in either is one line, and the repository is asked nothing."""
    spec = _spec(tmp_path / "image.yaml", apt_repo, server.uri,
                 **({"colour": "red"} if broken == "spec" else {}))
    if broken == "lock":
        (tmp_path / "image.lock.json").write_text("{not json")
    done = _build(spec, tmp_path / "out", tmp_path / "cache")
    assert done.returncode in (2, 3), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert ("colour" if broken == "spec" else "image.lock.json") in done.stderr
    assert server.paths() == []
    assert not (tmp_path / "out").exists()


def test_a_failed_index_download_is_one_line_and_exit_3(
    apt_repo: AptRepo, server: WebServer, tmp_path: Path
) -> None:
    index = _index(apt_repo)
    server.routes[index] = answer(404)
    done = _build(_spec(tmp_path / "image.yaml", apt_repo, server.uri), tmp_path / "out",
                  tmp_path / "cache")
    assert done.returncode == 3, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and index in line, line
    assert not (tmp_path / "out").exists()
