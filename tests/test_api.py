"""zerocve.api end to end on real things: the signed loopback apt repository over http, a real
advisory DB, Debian's docker-registry on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import pytest

from support.aptrepo import AptRepo
from support.data import advisory
from support.httpkit import WebServer
from support.registry import Registry
from zerocve import api
from zerocve.errors import LockError, UsageError
from zerocve.inventory.model import Distro
from zerocve.settings import Settings
from zerocve.vuln.db import FeedSource, update
from zerocve.vuln.gate import FailOn
from zerocve.vuln.model import State


def releases(server: WebServer) -> int:
    return sum(p.endswith("/InRelease") for p in server.paths())


@pytest.fixture
def counting(apt_repo: AptRepo, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebServer]:
    """The loopback repository behind a server that records every path it is asked for:
    specs written with ``http=True`` name it."""
    server = WebServer(apt_repo.root)
    monkeypatch.setattr(apt_repo, "http_uri", server.uri)
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A user whose DB says tzdata is fixed in a version no repository has."""
    feed = tmp_path / "osv"
    feed.mkdir()
    (feed / "CVE-2099-0001.json").write_text(json.dumps(advisory("tzdata", "9999z-1")))
    db = tmp_path / "advisories.sqlite"
    update([FeedSource.of("osv", feed)], db)
    return Settings.from_env(cache_dir=tmp_path / "cache", db_path=db)


def test_one_index_fetch_serves_lock_build_and_gate(
    spec_file, apt_repo: AptRepo, settings: Settings, registry: Registry, tmp_path: Path,
    counting: WebServer,
) -> None:
    spec = api.load_spec(spec_file(["tzdata"], http=True))
    repositories = api.repositories_of(spec, settings)
    indices = api.fetch_indices(repositories, api.index_archs(spec), settings)
    assert releases(counting) == len(apt_repo.suites)

    locked = api.lock(spec, settings, indices=indices)
    built = api.build(spec, locked, settings)
    assert [p.name for p in built.packages] == ["tzdata"]

    # Without the repositories' offer the fix looks reachable; with it, it is not.
    unknown = api.scan(built, settings)
    assert [f.state for f in unknown[0].findings] == [State.FIXED]
    assert unknown[0].inventory.target == built.digest  # read in memory, no layout written
    results = api.scan(built, settings, offered=indices.newest_sources())
    assert [f.state for f in results[0].findings] == [State.FIX_UNAVAILABLE]
    assert releases(counting) == len(apt_repo.suites)  # the gate read no index again

    refused = api.check_gate(unknown, api.GatePolicy())
    assert not refused.passed and "CVE-2099-0001 tzdata" in refused.reason
    assert [f.vulnerability for f in refused.failing] == ["CVE-2099-0001"]
    verdict = api.check_gate(results, api.GatePolicy(), expected=locked)
    assert verdict.passed, verdict.reason
    assert not api.check_gate(results, api.GatePolicy(fail_on=FailOn.OPEN)).passed

    # A lock naming a package the image does not hold fails the gate whatever the findings.
    amd64 = locked.archs["amd64"]
    extra = amd64.packages[0].model_copy(update={"name": "ghost"})
    other = locked.model_copy(update={"archs": {"amd64": amd64.model_copy(
        update={"packages": [*amd64.packages, extra]})}})
    mismatch = api.check_gate(results, api.GatePolicy(), expected=other)
    assert not mismatch.passed
    assert "differs from the lock" in mismatch.reason and "ghost" in mismatch.reason

    # A build from a lock file reads no index; the gate then asks the spec's repositories.
    lazy = api.Indices(settings=settings)
    _, fixable = api.gate(built, settings, api.GatePolicy(), indices=lazy)
    assert not fixable.passed  # nothing read: no offer known, the fix looks reachable
    gated, verdict = api.gate(built, settings, api.GatePolicy(), indices=lazy, spec=spec)
    assert verdict.passed and [f.state for f in gated[0].findings] == [State.FIX_UNAVAILABLE]

    # ``distro`` as the scan command's --distro takes it, or a Distro.
    (named,) = api.scan(built, settings, distro="debian:bookworm")
    assert named.inventory.distro == Distro("debian", "12", "bookworm")
    assert named.findings == unknown[0].findings
    with pytest.raises(UsageError, match=r"^--distro 'ubuntu:22\.04': expected debian:NUMBER"):
        api.scan(built, settings, distro="ubuntu:22.04")

    layout = api.write_layout(built, tmp_path / "out", "v1")
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == built.digest
    assert [r.findings for r in api.scan(layout, settings)] == [r.findings for r in unknown]

    first = api.publish(built, f"{registry.host}/api/tz:v1", settings)
    assert first.digest == built.digest
    assert first.reference == f"{registry.host}/api/tz:v1@{built.digest}"
    assert first.blobs_pushed == len(built.archs[0].layers) + 1  # layers and config
    assert first.bytes_pushed >= sum(layer.size for layer in built.archs[0].layers)
    again = api.publish(layout, f"{registry.host}/api/tz:v2", settings)
    assert (again.digest, again.blobs_pushed, again.bytes_pushed) == (built.digest, 0, 0)
    assert again.blobs_skipped == first.blobs_pushed


def test_a_relock_never_lowers_a_version_unless_allowed(
    spec_file, settings: Settings
) -> None:
    spec = api.load_spec(spec_file(["tzdata"]))
    repositories = api.repositories_of(spec, settings)
    indices = api.fetch_indices(repositories, api.index_archs(spec), settings)
    current = api.lock(spec, settings, indices=indices)
    amd64 = current.archs["amd64"]
    newer = [p.model_copy(update={"version": "9999z-1"}) for p in amd64.packages]
    previous = current.model_copy(update={"archs": {"amd64": amd64.model_copy(
        update={"packages": newer})}})
    with pytest.raises(LockError, match=r"downgrade tzdata:all 9999z-1 → "):
        api.lock(spec, settings, indices=indices, previous=previous)
    assert api.lock(spec, settings, indices=indices, previous=previous,
                    allow_downgrade=True) == current


def test_indices_without_settings_do_not_fetch(spec_file) -> None:
    spec = api.load_spec(spec_file(["tzdata"]))
    with pytest.raises(LockError, match=r"\(amd64\): not among the fetched indices"):
        api.lock(spec, Settings.from_env(), indices=api.Indices())


def test_one_package_for_two_architectures_is_refused_at_lock_time(
    spec_file, settings: Settings, tmp_path: Path
) -> None:
    """libc6 (Multi-Arch: same) for amd64 and arm64 in one image: the lock refuses it in one
    line, before any build could find the name twice."""
    spec = api.load_spec(spec_file(["libc6", "libc6:arm64"]))
    with pytest.raises(LockError) as refused:
        api.lock(spec, settings)
    # libc6's closure is refused at its first shared name (gcc-12-base sorts first).
    assert refused.value.diagnostics() == (
        "amd64: gcc-12-base is selected for both amd64 and arm64; an image holds one "
        "architecture of each package: drop the ':arm64' or ':amd64' request, or build a "
        "separate image for arm64")


class Holding:
    """A route that holds back the answer to its path until ``release`` is set (or a timeout
    passes), remembering whether it had to wait that long."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.timed_out = False

    def __call__(self, handler: SimpleHTTPRequestHandler) -> None:
        self.timed_out = not self.release.wait(30)
        SimpleHTTPRequestHandler.do_GET(handler)


def test_debs_are_unpacked_while_others_are_still_downloading(
    spec_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counting: WebServer
) -> None:
    """api.build unpacks each .deb as soon as it is fetched and verified: here the largest
    .deb's download waits until another package has been unpacked, which a build that
    fetched everything first would never do. The image is the one fetched-first gives."""
    from zerocve.assemble import image as image_module

    spec = api.load_spec(spec_file(["python3", "ca-certificates"], http=True))
    plain = Settings.from_env(cache_dir=tmp_path / "plain")
    locked = api.lock(spec, plain)
    expected = api.build(spec, locked, plain, use_cache=False)

    largest = max(locked.archs["amd64"].packages, key=lambda p: p.size)
    holding = Holding()
    counting.routes["/" + quote(largest.filename, safe="/+~:")] = holding
    unpacked: list[str] = []
    real_unpack = image_module.unpack

    def unpack(record, deb, keep):  # type: ignore[no-untyped-def]
        package = real_unpack(record, deb, keep)
        unpacked.append(record.name)
        holding.release.set()
        return package

    monkeypatch.setattr(image_module, "unpack", unpack)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    held = Settings.from_env(cache_dir=tmp_path / "held")
    built = api.build(spec, locked, held, use_cache=False)
    assert not holding.timed_out, "the build waited for every download before unpacking"
    assert unpacked[0] != largest.name and largest.name in unpacked
    assert built.digest == expected.digest
