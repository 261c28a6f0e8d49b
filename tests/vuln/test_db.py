"""The advisory DB: built from a subset of the real OSV zip (and the tracker fixture), swapped
in whole, left intact by every failure, and not rebuilt when nothing changed."""

from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.data import OSV_ZIP
from zerocve.errors import AdvisoryError
from zerocve.retry import RetryPolicy
from zerocve.vuln import db

REAL_ZIP = OSV_ZIP
TRACKER = Path(__file__).parent / "data" / "tracker-bookworm.json"
PACKAGES = {"openssl", "zlib", "curl", "chromium"}


@pytest.fixture(scope="module")
def subset_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real records that name openssl, zlib, curl or chromium (about 1,500)."""
    path = tmp_path_factory.mktemp("osv") / "subset.zip"
    with zipfile.ZipFile(REAL_ZIP) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            data = src.read(name)
            record = json.loads(data)
            if {a["package"]["name"] for a in record["affected"]} & PACKAGES:
                z.writestr(name, data)
    return path


def copy_with(src: Path, dest: Path, extra: dict[str, bytes]) -> Path:
    """``src`` zip plus (or with replaced) members."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            if item.filename not in extra:
                new.writestr(item, old.read(item))
        for name, data in extra.items():
            new.writestr(name, data)
    return dest


def snapshot(path: Path) -> tuple[int, int, bytes]:
    st = path.stat()
    return st.st_ino, st.st_size, path.read_bytes()


def leftovers(directory: Path) -> list[str]:
    return sorted(
        p.name for p in directory.iterdir() if ".building" in p.name or ".part-" in p.name
    )


@pytest.fixture
def built(tmp_path: Path, subset_zip: Path) -> tuple[Path, db.UpdateStats]:
    path = tmp_path / "db" / "advisories.sqlite"
    stats = db.update(
        [db.FeedSource.of("osv", subset_zip), db.FeedSource.of("debian-tracker", TRACKER)], path
    )
    return path, stats


def test_build_counts_sources_and_releases(built, subset_zip):
    path, stats = built
    assert stats.rebuilt and stats.path == path and stats.size == path.stat().st_size
    with zipfile.ZipFile(subset_zip) as z:
        n_records = len(z.namelist())
    osv, tracker = stats.sources
    assert (osv.source.kind, osv.advisories, osv.changed) == ("osv", n_records, True)
    assert (tracker.source.kind, tracker.advisories) == ("debian-tracker", 13)
    assert osv.fingerprint.startswith("sha256:")
    info = db.status(path)
    assert [s.source for s in info.sources] == [osv.source, tracker.source]
    releases = dict(info.sources[0].per_release)
    assert set(releases) >= {"bullseye", "bookworm", "trixie"} and releases["bookworm"] > 500
    assert dict(info.sources[1].per_release) == {"bookworm": 13, "bullseye": 1, "trixie": 2}
    assert db.recorded_sources(path) == (osv.source, tracker.source)
    assert leftovers(path.parent) == []


def test_rows_and_details_for_a_package(built):
    path, _ = built
    with db.open_db(path) as advisories:
        rows = advisories.affected(["bookworm"], ["openssl"])
        cve = [r for r in rows if r.vuln == "CVE-2024-0727"]
        assert {r.feed for r in cve} == {"osv", "debian-tracker"}
        assert {r.affected.fixed for r in cve} == {"3.0.13-1~deb12u1"}
        assert advisories.affected(["bookworm"], ["no-such-package"]) == []
        details = advisories.details(["CVE-2024-0727"])["CVE-2024-0727"]
        assert [c.vector for c in details.cvss] == ["CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"]
        assert "DLA-3942-1" in details.aliases
        assert details.description.startswith("Processing a maliciously formatted PKCS12")


def test_dsa_rows_fold_into_their_cves(built):
    """DSA-5418-1 (chromium) fixes 14 CVEs that have chromium rows of their own: its rows
    would count them twice, so they are dropped and the DSA becomes an alias of each CVE."""
    path, _ = built
    with db.open_db(path) as advisories:
        rows = advisories.affected(["bookworm"], ["chromium"])
        assert not [r for r in rows if r.vuln == "DSA-5418-1"]
        assert [r for r in rows if r.vuln == "CVE-2023-2929"]
        assert "DSA-5418-1" in advisories.details(["CVE-2023-2929"])["CVE-2023-2929"].aliases


def test_unchanged_inputs_do_no_work(built):
    path, _ = built
    before = snapshot(path)
    again = db.update([], path)  # the recorded sources
    assert not again.rebuilt and again.rows == 0
    assert [s.changed for s in again.sources] == [False, False]
    assert [s.advisories for s in again.sources] == [0, 0]
    assert snapshot(path) == before


def test_changed_input_rebuilds_and_swaps(built, subset_zip, tmp_path):
    path, first = built
    grown = copy_with(subset_zip, tmp_path / "grown.zip", {})
    record = {
        "id": "CVE-2099-1234",
        "details": "added upstream",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "zlib"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    copy_with(subset_zip, grown, {"CVE-2099-1234.json": json.dumps(record).encode()})
    old_inode = path.stat().st_ino
    stats = db.update([db.FeedSource.of("osv", grown)], path)
    assert stats.rebuilt and stats.sources[-1].changed
    assert stats.sources[-1].advisories == first.sources[0].advisories + 1
    assert path.stat().st_ino != old_inode  # a new file was swapped in
    with db.open_db(path) as advisories:
        assert "CVE-2099-1234" in {r.vuln for r in advisories.affected(["bookworm"], ["zlib"])}
    # only the named source was read; the recorded ones were kept as they were
    assert [(s.source.location, s.refreshed) for s in stats.sources] == [
        (str(subset_zip), False), (str(TRACKER), False), (str(grown), True)
    ]


def _assert_intact(path: Path, before: tuple[int, int, bytes]) -> None:
    assert snapshot(path) == before
    with db.open_db(path) as advisories:
        assert advisories.affected(["bookworm"], ["openssl"])
    assert leftovers(path.parent) == []


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (b"{]", r"CVE-2099-0001\.json: not a valid OSV record: Invalid JSON"),
        (
            b'{"id": "CVE-2099-0001", "affected": [{"package": {"name": "zlib"}}]}',
            r"CVE-2099-0001\.json: record CVE-2099-0001: not a valid OSV record: "
            r"affected\.0\.package\.ecosystem: Field required",
        ),
    ],
)
def test_bad_record_mid_ingest_leaves_previous_db(built, subset_zip, tmp_path, member, expected):
    """The bad record comes last in the zip, after ~1,500 good ones were already written to
    the new DB: the half-built file is thrown away and the old DB is untouched."""
    path, _ = built
    before = snapshot(path)
    bad = copy_with(subset_zip, tmp_path / "bad.zip", {"CVE-2099-0001.json": member})
    with pytest.raises(AdvisoryError, match=expected) as info:
        db.update([db.FeedSource.of("osv", bad)], path)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    _assert_intact(path, before)


def test_truncated_zip_leaves_previous_db(built, subset_zip, tmp_path):
    path, _ = built
    before = snapshot(path)
    truncated = tmp_path / "truncated.zip"
    data = subset_zip.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(AdvisoryError, match=r"truncated\.zip: not an OSV zip"):
        db.update([db.FeedSource.of("osv", truncated)], path)
    _assert_intact(path, before)


def test_missing_file_and_no_sources(tmp_path, built):
    path, _ = built
    with pytest.raises(AdvisoryError, match=r"nothere\.zip: no such osv feed file"):
        db.update([db.FeedSource.of("osv", tmp_path / "nothere.zip")], path)
    with pytest.raises(AdvisoryError, match=r"no advisory sources recorded .* pass --osv"):
        db.update([], tmp_path / "fresh" / "advisories.sqlite")
    with pytest.raises(AdvisoryError, match=r"no advisory DB at .*: run `zerocve db update"):
        db.open_db(tmp_path / "fresh" / "advisories.sqlite")


def test_corrupt_db_file_is_rebuilt_and_never_read(tmp_path, subset_zip):
    path = tmp_path / "advisories.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(AdvisoryError, match=r"not a readable advisory DB"):
        db.open_db(path)
    assert db.update([db.FeedSource.of("osv", subset_zip)], path).rebuilt
    assert db.open_db(path).affected(["bookworm"], ["curl"])


# --- URLs, on a loopback server ---------------------------------------------------------


class _Feed:
    """What the loopback server serves, and what it was asked."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.etag = '"v1"'  # empty: the server validates by Last-Modified only
        self.last_modified = "Wed, 12 Feb 2025 06:00:00 GMT"
        self.requests: list[dict[str, str]] = []
        self.faults: list[int] = []  # statuses to answer first, one per request


@pytest.fixture
def http_feed(subset_zip: Path) -> Iterator[tuple[str, _Feed]]:
    feed = _Feed(subset_zip.read_bytes())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            feed.requests.append(dict(self.headers))
            if feed.faults:
                self.send_response(feed.faults.pop(0))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path != "/debian/all.zip":
                self.send_error(404)
                return
            if (feed.etag and self.headers.get("If-None-Match") == feed.etag) or (
                not feed.etag and self.headers.get("If-Modified-Since") == feed.last_modified
            ):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            if feed.etag:
                self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", feed.last_modified)
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/debian/all.zip", feed
    server.shutdown()
    server.server_close()


def test_url_feed_uses_etag_and_304_does_no_work(tmp_path, http_feed, subset_zip):
    url, feed = http_feed
    path = tmp_path / "db" / "advisories.sqlite"
    first = db.update([db.FeedSource.of("osv", url)], path)
    assert first.rebuilt and first.sources[0].etag == '"v1"'
    assert "If-None-Match" not in feed.requests[0]
    assert db.status(path).sources[0].etag == '"v1"'
    before = snapshot(path)

    second = db.update([], path)
    assert feed.requests[1].get("If-None-Match") == '"v1"'
    assert not second.rebuilt and snapshot(path) == before

    # new content under a new ETag: downloaded again and rebuilt
    record = json.loads(zipfile.ZipFile(subset_zip).read("CVE-2024-0727.json"))
    feed.body = copy_with(
        subset_zip,
        tmp_path / "v2.zip",
        {"CVE-2099-7777.json": json.dumps(record | {"id": "CVE-2099-7777"}).encode()},
    ).read_bytes()
    feed.etag = '"v2"'
    third = db.update([], path)
    assert third.rebuilt and third.sources[0].etag == '"v2"'
    with db.open_db(path) as advisories:
        assert "CVE-2099-7777" in {r.vuln for r in advisories.affected(["bookworm"], ["openssl"])}
    assert leftovers(path.parent / "downloads") == []


def test_url_feed_with_last_modified_only(tmp_path, http_feed):
    url, feed = http_feed
    feed.etag = ""
    path = tmp_path / "advisories.sqlite"
    assert db.update([db.FeedSource.of("osv", url)], path).rebuilt
    assert db.status(path).sources[0].last_modified == feed.last_modified
    again = db.update([], path)
    assert feed.requests[1].get("If-Modified-Since") == feed.last_modified
    assert not again.rebuilt


def test_directory_url_of_json_records(tmp_path, subset_zip):
    """A web server's listing of a directory of OSV records (Python's own http.server)."""
    served = tmp_path / "served"
    (served / "osv").mkdir(parents=True)
    with zipfile.ZipFile(subset_zip) as z:
        names = sorted(z.namelist())[:40]
        for name in names:
            (served / "osv" / name).write_bytes(z.read(name))
    (served / "osv" / "README.txt").write_text("not a record")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/osv/"
        path = tmp_path / "db" / "advisories.sqlite"
        first = db.update([db.FeedSource.of("osv", url)], path)
        assert first.rebuilt and first.sources[0].advisories == 40
        # the listing carries no validators: everything is fetched again, but the content
        # hash is the same, so the DB is not rebuilt
        assert not db.update([], path).rebuilt
        record = json.loads((served / "osv" / names[0]).read_text())
        (served / "osv" / "CVE-2099-4242.json").write_text(
            json.dumps(record | {"id": "CVE-2099-4242"})
        )
        third = db.update([], path)
        assert third.rebuilt and third.sources[0].advisories == 41
        assert leftovers(path.parent / "downloads") == []
    finally:
        server.shutdown()
        server.server_close()


def test_url_feed_retries_transient_failures(tmp_path, http_feed):
    """The feed fetcher retries as the repository and registry clients do (zerocve.retry)."""
    url, feed = http_feed
    waits: list[float] = []
    retry = RetryPolicy(retries=2, backoff=0.01, sleep=waits.append)
    feed.faults = [503, 429]
    assert db.update([db.FeedSource.of("osv", url)], tmp_path / "a.sqlite", retry=retry).rebuilt
    assert waits == [0.01, 0.02] and len(feed.requests) == 3
    feed.faults = [502, 500, 503]
    with pytest.raises(AdvisoryError) as info:
        db.update([db.FeedSource.of("osv", url)], tmp_path / "b.sqlite", retry=retry)
    assert str(info.value) == (
        f"{url}: cannot fetch advisory feed: HTTP 503 Service Unavailable (after 3 attempts)")


def test_unreachable_url_is_one_line_and_leaves_previous_db(built):
    path, _ = built
    before = snapshot(path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    url = f"http://127.0.0.1:{port}/all.zip"
    with pytest.raises(AdvisoryError, match=rf"^{url}: cannot fetch advisory feed") as info:
        db.update([db.FeedSource.of("osv", url)], path, retry=RetryPolicy(retries=1, backoff=0))
    assert "\n" not in str(info.value)
    _assert_intact(path, before)


def test_http_error_status_is_reported(tmp_path, http_feed):
    url, _ = http_feed
    with pytest.raises(AdvisoryError, match=r"all\.zipx: HTTP 404 Not Found$"):
        db.update([db.FeedSource.of("osv", url + "x")], tmp_path / "a.sqlite")


# --- the command line, and a real kill ------------------------------------------------


def _zerocve() -> str:
    exe = shutil.which("zerocve")
    assert exe, "the zerocve entry point is installed with the package"
    return exe


def test_cli_update_and_status(tmp_path, subset_zip):
    env = os.environ | {"ZEROCVE_DB": str(tmp_path / "cli.sqlite"), "COLUMNS": "200"}
    first = subprocess.run(
        [_zerocve(), "db", "update", "--osv", str(subset_zip), "--tracker", str(TRACKER)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "osv records" in first.stdout and "debian-tracker records" in first.stdout
    again = subprocess.run([_zerocve(), "db", "update"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout
    shown = subprocess.run([_zerocve(), "db", "status"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0
    assert str(subset_zip) in shown.stdout and "debian-tracker" in shown.stdout
    assert "bookworm: 13" in shown.stdout
    none = subprocess.run(
        [_zerocve(), "db", "update", "--db", str(tmp_path / "other.sqlite")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert none.returncode == 3 and "pass --osv" in none.stderr


def test_killed_update_leaves_previous_db_usable(built):
    """SIGKILL a real `zerocve db update` of the full zip while it writes the new DB."""
    path, _ = built
    before = snapshot(path)
    proc = subprocess.Popen(
        [_zerocve(), "db", "update", "--osv", str(REAL_ZIP), "--db", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not [p for p in path.parent.iterdir() if p.name.endswith(".building")]:
        assert proc.poll() is None and time.monotonic() < deadline, "no build file appeared"
        time.sleep(0.05)
    time.sleep(0.5)  # well into ingestion (the full zip takes seconds)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert snapshot(path) == before
    with db.open_db(path) as advisories:
        assert advisories.affected(["bookworm"], ["openssl"])
    # the next update removes the dead build's file and does no work (inputs unchanged)
    assert not db.update([], path).rebuilt
    assert leftovers(path.parent) == []


def test_one_updater_at_a_time(built):
    path, _ = built
    before = snapshot(path)
    with (path.parent / ".update.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(AdvisoryError, match=r"another `zerocve db update` is running"):
            db.update([], path)
    _assert_intact(path, before)


def test_cli_status_without_a_db(tmp_path):
    shown = subprocess.run(
        [_zerocve(), "db", "status", "--db", str(tmp_path / "none.sqlite")],
        env=os.environ | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 3
    assert shown.stderr.count("\n") == 1 and "run `zerocve db update --osv" in shown.stderr
