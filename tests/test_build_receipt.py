"""Build receipts (``zerocve.receipt``, ``zerocve.cli._front``): a no-change ``zerocve build``
answered without the typer and pydantic stack, printing exactly what the whole CLI prints,
and the whole CLI again as soon as anything the result depends on is not as recorded.

Every run goes through one small wrapper that writes, at exit, the modules the process
imported: a run that loaded neither typer nor pydantic was answered by a receipt."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zerocve.cache_seal import KEY_NAME, CacheSeal, open_record, seal_record
from zerocve.cli._front import eligible
from zerocve.receipt import Receipt, Receipts, settled, snapshot

STATIC = ["base-files", "netbase", "tzdata", "ca-certificates"]
SRC = Path(__file__).resolve().parents[1] / "src"
TRACKER = Path(__file__).resolve().parent / "vuln" / "data" / "tracker-bookworm.json"
# The CLI's own stack: a run that imported none of it never ran the CLI.
CLI_STACK = ("typer", "pydantic", "zerocve.cli._main", "zerocve.spec")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    modules: frozenset[str]

    @property
    def from_receipt(self) -> bool:
        return not any(m == name or m.startswith(name + ".")
                       for m in self.modules for name in CLI_STACK)


@dataclass
class Project:
    """A spec of the loopback repository, locked, built into ``out``, with a cache, state
    dir and DB path of its own."""

    root: Path
    spec: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cache(self) -> Path:
        return Path(self.env["ZEROCVE_CACHE_DIR"])

    @property
    def receipts(self) -> Path:
        return self.cache / "receipts"

    @property
    def db(self) -> Path:
        return Path(self.env["ZEROCVE_DB"])

    def run(self, *args: str, cwd: Path | None = None, terminal: bool = False) -> Run:
        """``zerocve ARGS``; on ``terminal``, all three streams are a pseudo-terminal, whose
        bytes come back as ``stdout``."""
        marker = self.root / "modules.txt"
        marker.unlink(missing_ok=True)
        code = ("import atexit, runpy, sys\n"
                f"atexit.register(lambda: open({str(marker)!r}, 'w')"
                ".write('\\n'.join(sys.modules)))\n"
                "runpy.run_module('zerocve', run_name='__main__')\n")
        command = [sys.executable, "-c", code, *args]
        if terminal:
            returncode, stdout, stderr = _on_terminal(command, self.env, cwd or self.root)
        else:
            done = subprocess.run(command, capture_output=True, env=self.env,
                                  cwd=cwd or self.root, check=False, timeout=300)
            returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
        return Run(returncode, stdout, stderr, frozenset(marker.read_text().split()))

    def build(self, *extra: str, cwd: Path | None = None) -> Run:
        done = self.run("build", str(self.spec), "-o", str(self.root / "out"), *extra, cwd=cwd)
        assert done.returncode == 0, done.stderr.decode()
        return done

    def settle(self, *extra: str, cwd: Path | None = None) -> Run:
        """Build until a receipt answers (the first no-change run keeps one, the next confirms
        it); returns the last run of the whole CLI, whose output the receipt must repeat."""
        runs = [self.build(*extra, cwd=cwd) for _ in range(3)]
        assert not any(r.from_receipt for r in runs)
        hit = self.build(*extra, cwd=cwd)
        assert hit.from_receipt, hit.stderr.decode()
        assert (hit.stdout, hit.stderr) == (runs[-1].stdout, runs[-1].stderr)
        return runs[-1]


def _on_terminal(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes, bytes]:
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                              cwd=cwd) as child:
            os.close(slave)
            slave = -1
            chunks = []
            while True:  # read as it comes, or a full terminal buffer would stop the child
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # EIO: the child's side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            child.wait(timeout=300)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    return child.returncode, b"".join(chunks), b""


@pytest.fixture
def project(tmp_path: Path, spec_file, apt_repo) -> Project:
    spec = spec_file(STATIC)
    keyring = tmp_path / "keyring.gpg"  # the project's own, to change
    shutil.copyfile(apt_repo.keyring, keyring)
    spec.write_text(spec.read_text().replace(str(apt_repo.keyring), str(keyring)))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "cache"),
           "ZEROCVE_STATE_DIR": str(tmp_path / "state"), "ZEROCVE_DB": str(tmp_path / "db"),
           "PYTHONPATH": str(SRC)}
    made = Project(tmp_path, spec, env)
    assert made.run("-q", "lock", str(spec)).returncode == 0
    return made


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("quiet", [(), ("-q",)], ids=["notes", "quiet"])
def test_a_no_change_rebuild_is_answered_from_its_receipt(project: Project, quiet) -> None:
    spec, out = str(project.spec), str(project.root / "out")
    runs = [project.run(*quiet, "build", spec, "-o", out) for _ in range(4)]
    assert [r.returncode for r in runs] == [0, 0, 0, 0]
    assert [r.from_receipt for r in runs] == [False, False, False, True]
    # Byte for byte what the whole CLI printed for the same no-change build.
    assert (runs[3].stdout, runs[3].stderr) == (runs[2].stdout, runs[2].stderr)
    assert runs[3].stdout.decode().startswith("sha256:")
    if not quiet:
        assert b"image read from the build cache" in runs[3].stderr
        assert b"not scanned: no advisory DB" in runs[3].stderr
    else:
        assert runs[3].stderr == b""
    # ...and the receipt keeps answering.
    assert project.run(*quiet, "build", spec, "-o", out).from_receipt


def test_a_terminal_gets_the_same_bytes_from_a_receipt(project: Project) -> None:
    project.env["TERM"] = "xterm-256color"
    spec, out = str(project.spec), str(project.root / "out")
    runs = [project.run("build", spec, "-o", out, terminal=True) for _ in range(4)]
    assert [r.returncode for r in runs] == [0, 0, 0, 0]
    assert [r.from_receipt for r in runs] == [False, False, False, True]
    assert runs[3].stdout == runs[2].stdout
    assert b"\x1b[" in runs[3].stdout  # the notes as rich styles them for a terminal
    assert b"image read from the build cache" in runs[3].stdout


def _edit_spec(p: Project) -> None:
    p.spec.write_text(p.spec.read_text() + "# a comment\n")


def _edit_lock(p: Project) -> None:
    lock = p.spec.with_name("image.lock.json")
    lock.write_text(json.dumps(json.loads(lock.read_text()), indent=4) + "\n")


def _edit_keyring(p: Project) -> None:
    keyring = p.root / "keyring.gpg"
    keyring.write_bytes(keyring.read_bytes() * 2)  # the same keys, listed twice


def _edit_env(p: Project) -> None:
    p.env["ZEROCVE_BUILD_CACHE_MAX"] = "1G"


def _edit_code(p: Project) -> None:
    # The tests run zerocve from a copy of its source, so that the copy can change.
    module = Path(p.env["PYTHONPATH"]) / "zerocve" / "receipt.py"
    module.write_text(module.read_text() + "# changed\n")


def _upgrade_library(p: Project) -> None:
    # A distribution on sys.path (the copy of zerocve's source is on PYTHONPATH) upgraded in
    # place: its metadata directory's name carries the version.
    (Path(p.env["PYTHONPATH"]) / "somelib-2.0.dist-info").mkdir()


def _edit_kept_release(p: Project) -> None:
    kept = next((p.cache / "releases").rglob("*.InRelease"))
    kept.write_bytes(kept.read_bytes() + b"\n")


def _edit_layout_file(p: Project) -> None:
    index = p.root / "out" / "index.json"
    index.write_bytes(index.read_bytes() + b" ")


def _touch_blob(p: Project) -> None:
    blob = next((p.root / "out" / "blobs" / "sha256").iterdir())
    os.utime(blob)


def _remove_sbom(p: Project) -> None:
    (p.root / "out.spdx.json").unlink()


def _add_to_layout(p: Project) -> None:
    (p.root / "out" / "stray").write_text("")


def _add_db(p: Project) -> None:
    from zerocve.vuln import db

    db.update([db.FeedSource.of("debian-tracker", TRACKER)], p.db)


def _expire(p: Project) -> None:
    # As if the first key of the keyring had expired: the receipt's own seal, its lapse moved
    # to the past (only this machine's key can do that).
    _reseal(p, lambda body: {**body, "until": 1})


def _reseal(p: Project, change, key: bytes | None = None) -> None:
    (path,) = p.receipts.iterdir()
    seal = CacheSeal((p.root / "state" / KEY_NAME).read_bytes())
    body = json.loads(path.read_bytes())
    opened = open_record(seal, path.read_bytes(), format=body["format"], key=body["key"])
    assert opened is not None
    path.write_bytes(seal_record(CacheSeal(key) if key else seal, change(opened)))


def _forge(p: Project) -> None:
    # Sealed with another key: e.g. planted from a CI cache another machine filled.
    _reseal(p, lambda body: {**body, "printed": [{"stream": "stdout", "text": "forged\n"}]},
            key=b"k" * 32)


def _damage(p: Project) -> None:
    (path,) = p.receipts.iterdir()
    path.write_bytes(path.read_bytes()[:-20])


def _not_an_object(p: Project) -> None:
    (path,) = p.receipts.iterdir()
    path.write_bytes(b"[]")


CHANGES = {
    "spec": _edit_spec, "lock": _edit_lock, "keyring": _edit_keyring, "env": _edit_env,
    "code": _edit_code, "library": _upgrade_library, "kept-release": _edit_kept_release,
    "layout-file": _edit_layout_file,
    "blob-touched": _touch_blob, "sbom-removed": _remove_sbom, "layout-added": _add_to_layout,
    "db-present": _add_db, "expired": _expire, "forged": _forge, "damaged": _damage,
    "not-an-object": _not_an_object,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_anything_the_result_depends_on_changed_runs_the_whole_cli(
    project: Project, change, tmp_path: Path
) -> None:
    shutil.copytree(SRC / "zerocve", tmp_path / "src" / "zerocve",
                    ignore=shutil.ignore_patterns("__pycache__"))
    project.env["PYTHONPATH"] = str(tmp_path / "src")
    project.settle()
    change(project)
    again = project.run("build", str(project.spec), "-o", str(project.root / "out"))
    assert not again.from_receipt
    assert b"forged" not in again.stdout
    if change is _add_db:  # the whole CLI scanned the image against the DB
        assert again.returncode == 0, again.stderr.decode()
        assert b"not scanned" not in again.stderr


def test_another_command_line_or_directory_has_its_own_receipt(project: Project) -> None:
    project.settle()
    assert not project.build("--locked").from_receipt
    elsewhere = project.root / "elsewhere"
    elsewhere.mkdir()
    assert not project.build(cwd=elsewhere).from_receipt


def test_no_cache_neither_reads_nor_writes_receipts(project: Project) -> None:
    project.settle()
    (kept,) = project.receipts.iterdir()
    before = kept.read_bytes(), kept.stat().st_mtime_ns
    for _ in range(3):
        assert not project.build("--no-cache").from_receipt
    assert list(project.receipts.iterdir()) == [kept]
    assert (kept.read_bytes(), kept.stat().st_mtime_ns) == before


def test_a_build_that_resolves_again_gets_no_receipt(project: Project) -> None:
    project.spec.with_name("image.lock.json").unlink()  # resolved from the live indices
    for _ in range(3):
        assert not project.build().from_receipt
    assert not project.receipts.exists()


def test_a_rejected_build_prints_its_error_from_the_whole_cli(project: Project) -> None:
    project.settle()
    project.spec.write_text("contents: {packages: [")
    done = project.run("build", str(project.spec), "-o", str(project.root / "out"))
    assert done.returncode != 0 and not done.from_receipt
    assert done.stderr.decode().count("\n") == 1



@pytest.fixture
def host_project(tmp_path: Path, apt_repo) -> Project:
    """A spec naming no repository, as examples/python.yaml: the host's apt sources, here an
    etc/apt tree (``ZEROCVE_APT_DIR``) whose one source, without Signed-By, is trusted
    through trusted.gpg.d, as a stock Debian host's is."""
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "trusted.gpg.d").mkdir()
    (etc / "sources.list.d" / "loopback.sources").write_text(
        f"Types: deb\nURIs: {apt_repo.uri}\nSuites: {' '.join(apt_repo.suites)}\n"
        "Components: main\n")
    shutil.copyfile(apt_repo.keyring, etc / "trusted.gpg.d" / "loopback.gpg")
    spec = tmp_path / "image.yaml"
    spec.write_text(json.dumps({"contents": {"packages": STATIC}}))
    env = {**os.environ, "ZEROCVE_CACHE_DIR": str(tmp_path / "cache"),
           "ZEROCVE_STATE_DIR": str(tmp_path / "state"), "ZEROCVE_DB": str(tmp_path / "db"),
           "ZEROCVE_APT_DIR": str(etc), "PYTHONPATH": str(SRC)}
    made = Project(tmp_path, spec, env)
    assert made.run("-q", "lock", str(spec)).returncode == 0
    return made


def _edit_source(p: Project) -> None:
    source = p.root / "etc-apt" / "sources.list.d" / "loopback.sources"
    source.write_text(source.read_text() + "\n")  # the same source, one byte more


def _add_source(p: Project) -> None:
    (p.root / "etc-apt" / "sources.list.d" / "other.list").write_text("# nothing yet\n")


def _add_sources_list(p: Project) -> None:
    (p.root / "etc-apt" / "sources.list").write_text("# nothing yet\n")


def _edit_trusted_key(p: Project) -> None:
    keyring = p.root / "etc-apt" / "trusted.gpg.d" / "loopback.gpg"
    keyring.write_bytes(keyring.read_bytes() * 2)  # the same keys, listed twice


def _add_trusted_key(p: Project) -> None:
    trusted = p.root / "etc-apt" / "trusted.gpg.d"
    shutil.copyfile(trusted / "loopback.gpg", trusted / "more.gpg")


def _rename_trusted_key(p: Project) -> None:
    trusted = p.root / "etc-apt" / "trusted.gpg.d"
    (trusted / "loopback.gpg").rename(trusted / "loopback.gpg.disabled")


HOST_CHANGES = {
    "source-edited": _edit_source, "source-added": _add_source,
    "sources.list-added": _add_sources_list, "trusted-key-edited": _edit_trusted_key,
    "trusted-key-added": _add_trusted_key, "trusted-key-renamed": _rename_trusted_key,
}


def test_a_build_from_the_host_sources_is_answered_from_its_receipt(host_project: Project) -> None:
    last = host_project.settle()
    assert last.stdout.decode().startswith("sha256:")


@pytest.mark.parametrize("change", HOST_CHANGES.values(), ids=HOST_CHANGES.keys())
def test_anything_of_the_host_sources_changed_runs_the_whole_cli(
    host_project: Project, change
) -> None:
    host_project.settle()
    change(host_project)
    again = host_project.run("build", str(host_project.spec), "-o",
                             str(host_project.root / "out"))
    assert not again.from_receipt

# -- the pure parts -------------------------------------------------------------------------


@pytest.mark.parametrize("argv, answer", [
    (["build", "s.yaml", "-o", "out"], True),
    (["-q", "build", "s.yaml", "-o", "out", "--no-scan", "--locked"], True),
    (["--quiet", "build", "s.yaml", "--output=out"], True),
    (["-v", "build", "s.yaml", "-o", "out"], False),
    (["build", "s.yaml", "--tar", "x.tar"], False),
    (["build", "s.yaml", "--tar=x.tar"], False),
    (["build", "s.yaml", "-o", "out", "--no-cache"], False),
    (["build", "--help"], False),
    (["--version"], False),
    (["scan", "out"], False),
    ([], False),
])
def test_what_a_receipt_may_answer(argv: list[str], answer: bool) -> None:
    assert eligible(argv) is answer


def test_snapshot_sees_every_entry(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    taken = snapshot(tmp_path)
    assert taken is not None and set(taken) == {".", "d", "d/f"}
    assert snapshot(tmp_path / "absent") is None
    os.utime(tmp_path / "d" / "f", ns=(0, 0))
    assert snapshot(tmp_path) != taken


def test_outputs_changed_a_moment_ago_are_not_vouched_for(tmp_path: Path) -> None:
    fine = ("out", {".": (1, 2, 3, 4, 10_000_000_123, 10_000_000_123)})
    coarse = ("out", {".": (1, 2, 3, 4, 10_000_000_000, 10_000_000_000)})
    assert settled([fine], 10_100_000_000) and not settled([fine], 10_010_000_000)
    assert not settled([coarse], 11_000_000_000) and settled([coarse], 12_500_000_000)


def test_a_receipt_of_another_key_is_a_miss(tmp_path: Path) -> None:
    receipts = Receipts(tmp_path, CacheSeal(b"s" * 32))
    receipt = Receipt(inputs=(), absent=(), outputs=(), until=None, printed=(), confirmed=True)
    receipts.store("a" * 64, receipt)
    assert receipts.load("a" * 64) == receipt
    (tmp_path / "receipts" / f"{'a' * 64}.json").rename(tmp_path / "receipts" / f"{'b' * 64}.json")
    assert receipts.load("b" * 64) is None


def test_a_stream_written_past_the_record_spoils_it() -> None:
    import io

    from zerocve.cli._front import _Capture, _Tee

    capture = _Capture()
    tee = _Tee(io.TextIOWrapper(io.BytesIO()), "stdout", capture)  # type: ignore[arg-type]
    tee.write("digest\n")
    assert [p.text for p in capture.printed] == ["digest\n"] and not capture.spoiled
    assert getattr(tee, "rich_proxied_file", None) is None and not capture.spoiled
    assert tee.buffer is not None and capture.spoiled  # bytes written there are not recorded
