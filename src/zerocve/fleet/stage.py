"""Stage: run an image's ``test:`` commands in the image as the registry serves it, sandboxed.

The image is pulled by digest (so what runs is exactly what would be promoted) and each test
command runs in its own podman container with no network, a read-only root filesystem, the
image's own non-root user, every capability dropped, no new privileges, a memory and a pids
limit and a time limit; a test still running at its limit is killed. The outcome of each test
is a value (``TestResult``); a stage that cannot run its tests at all (podman missing, the
image runs as root, the pull fails) raises ``StageError``.

``run_argv`` builds the podman command line and is pure; ``Podman`` does the I/O.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zerocve.errors import StageError
from zerocve.oci.reference import Reference
from zerocve.oci.registry import is_loopback

OUTPUT_LIMIT = 16 << 10
"""Bytes of a test's output kept (the tail: the end of a log says why it failed)."""
_PULL_TIMEOUT = 600.0
_ROOT_USERS = frozenset({"", "0", "root"})


@dataclass(frozen=True)
class Sandbox:
    """Limits of one test container."""

    memory: str = "512m"
    pids: int = 256
    timeout: float = 120.0  # seconds per test


@dataclass(frozen=True)
class TestResult:
    """One test command's outcome; ``exit_code`` is None when it was killed at its limit."""

    __test__ = False  # not a pytest class, despite the name

    command: tuple[str, ...]
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        shown = " ".join(self.command)
        if self.timed_out:
            return f"test [{shown}] timed out after {self.seconds:.0f}s and was killed"
        return f"test [{shown}] exited {self.exit_code}"

    def to_json(self) -> dict[str, object]:
        return {
            "command": list(self.command),
            "exit_code": self.exit_code,
            "output": self.output,
            "seconds": round(self.seconds, 3),
            "timed_out": self.timed_out,
        }


@dataclass(frozen=True)
class StageReport:
    """Every test's result for one image (``REGISTRY/REPO@DIGEST``)."""

    image: str
    tests: tuple[TestResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tests)

    @property
    def reason(self) -> str:
        """Why the stage failed ("" when it passed): the first failing test."""
        failed = [t for t in self.tests if not t.passed]
        if not failed:
            return ""
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return failed[0].describe() + more


def run_argv(
    podman: Sequence[str], image: str, command: Sequence[str], sandbox: Sandbox, name: str
) -> list[str]:
    """The podman command line (``podman``: the executable and its global options) that runs
    ``command`` in ``image`` (already pulled) sandboxed.

    The test replaces the image's entrypoint and cmd entirely (a test is a whole command line,
    as in the spec); the user stays the image's own.
    """
    return [
        *podman, "run", "--rm", "--pull=never", f"--name={name}",
        "--network=none",
        "--read-only",
        "--cap-drop=all",
        "--security-opt=no-new-privileges",
        f"--memory={sandbox.memory}", f"--memory-swap={sandbox.memory}",
        f"--pids-limit={sandbox.pids}",
        # conmon kills the container at the limit even if this process dies first.
        f"--timeout={max(1, int(sandbox.timeout + 0.999))}",
        f"--entrypoint={json.dumps(list(command))}",
        image,
    ]


def is_root_user(user: str) -> bool:
    """True when an image config's ``User`` runs as root (empty means root)."""
    return user.split(":", 1)[0] in _ROOT_USERS


def not_started(exit_code: int, output: str) -> bool:
    """Whether a ``podman run`` failed before the test ran: podman's own failures exit 125;
    126 and 127 are the test's (not executable, not found) unless the runtime says it could
    not create the container. Those are the machine's fault, not the image's."""
    if exit_code == 125:
        return True
    return exit_code in (126, 127) and output.startswith("Error: ") and "OCI " in output


def _tail(data: bytes) -> str:
    return data[-OUTPUT_LIMIT:].decode("utf-8", errors="replace")


def _runroot(storage: Path) -> Path:
    """Podman refuses a runroot longer than 50 characters: a short one in the temporary
    directory, named after the storage it serves."""
    key = hashlib.sha256(str(storage.absolute()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"zerocve-podman-{key}"


# Podman's storage loses layers when images that share them are pulled and removed at the
# same time ("layer not known"): within a process, pulls and removals take turns.
_STORAGE_TURN = threading.Lock()


class Podman:
    """The podman executable; every call is one clear ``StageError`` when it fails.
    ``storage``: a directory of its own for the pulled images and containers (so staging
    neither sees nor disturbs the host's), else podman's default storage."""

    def __init__(self, executable: str = "podman", storage: Path | None = None) -> None:
        found = shutil.which(executable)
        if found is None:
            raise StageError(
                f"{executable}: not found on PATH; install podman (apt-get install podman) "
                "to stage images"
            )
        self.executable = found
        self._global = (
            [f"--root={storage / 'storage'}", f"--runroot={_runroot(storage)}"] if storage else []
        )

    def _argv(self, *args: str) -> list[str]:
        return [self.executable, *self._global, *args]

    def _run(self, what: str, *args: str, timeout: float = 120.0) -> str:
        try:
            done = subprocess.run(
                self._argv(*args), capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise StageError(f"podman {what}: no answer within {timeout:.0f}s") from e
        if done.returncode != 0:
            detail = _tail(done.stderr).strip().splitlines()
            raise StageError(
                f"podman {what}: exit {done.returncode}: {detail[-1] if detail else 'no output'}"
            )
        return done.stdout.decode(errors="replace")

    def pull(self, image: Reference) -> str:
        """Pull ``image`` (which names a digest) and return the local image id."""
        assert image.digest is not None, "stage pulls by digest only"
        tls = "false" if is_loopback(image.registry) else "true"
        with _STORAGE_TURN:
            out = self._run(
                f"pull {image}", "pull", "--quiet", f"--tls-verify={tls}",
                f"docker://{image.name}@{image.digest}", timeout=_PULL_TIMEOUT,
            )
        return out.strip().splitlines()[-1]

    def user(self, image_id: str) -> str:
        return self._run(
            f"image inspect {image_id[:12]}", "image", "inspect", "--format",
            "{{.Config.User}}", image_id,
        ).strip()

    def remove(self, image_id: str) -> None:
        """Forget the pulled image (best effort: a leftover only costs local disk)."""
        with _STORAGE_TURN:
            subprocess.run(
                self._argv("rmi", "--force", image_id), capture_output=True, check=False,
                timeout=120,
            )

    def images(self) -> dict[str, str]:
        """The pulled images: id → manifest digest."""
        listed = self._run("images", "images", "--no-trunc", "--format", "{{.ID}} {{.Digest}}")
        return dict(line.split(" ", 1) for line in listed.splitlines() if " " in line)

    def keep_only(self, digests: Collection[str]) -> None:
        """Forget every pulled image whose digest is not one of ``digests``, and the layers
        only those held. (Not by age: a reproducible image's creation date is its
        SOURCE_DATE_EPOCH.)"""
        drop = [image_id for image_id, digest in self.images().items() if digest not in digests]
        if drop:
            with _STORAGE_TURN:
                subprocess.run(self._argv("rmi", "--force", *drop), capture_output=True,
                               check=False, timeout=600)  # fmt: skip

    def run_test(self, image_id: str, command: Sequence[str], sandbox: Sandbox) -> TestResult:
        name = f"zerocve-stage-{uuid.uuid4().hex[:12]}"
        argv = run_argv(self._argv(), image_id, command, sandbox, name)
        started = time.monotonic()
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = process.communicate(timeout=sandbox.timeout)
        except subprocess.TimeoutExpired:
            # Killing the client alone would leave the container running under conmon.
            subprocess.run(
                self._argv("rm", "--force", "--time=0", name),
                capture_output=True, check=False, timeout=120,
            )
            process.kill()
            output, _ = process.communicate()
            return TestResult(
                tuple(command), None, _tail(output), time.monotonic() - started, timed_out=True
            )
        text = _tail(output)
        if not_started(process.returncode, text):
            raise StageError(
                f"podman run [{' '.join(command)}]: the container did not start (exit "
                f"{process.returncode}): {text.strip().splitlines()[-1] if text.strip() else ''}"
            )
        return TestResult(tuple(command), process.returncode, text, time.monotonic() - started)


def stage(
    image: Reference,
    tests: Sequence[Sequence[str]],
    sandbox: Sandbox = Sandbox(),
    *,
    podman: str = "podman",
    storage: Path | None = None,
    keep: bool = False,
) -> StageReport:
    """Pull ``image`` by digest and run each of ``tests`` in it; every test runs even after
    one fails, so the report shows them all. ``storage``: see ``Podman``. ``keep``: leave
    the pulled image in the storage (the fleet keeps its published images there, so that a
    rebuild, which shares most layers with them, pulls only the layers that changed)."""
    if image.digest is None:
        raise StageError(f"{image}: stage needs an image pinned by digest")
    runtime = Podman(podman, storage)
    image_id = runtime.pull(image)
    try:
        user = runtime.user(image_id)
        if is_root_user(user):
            raise StageError(
                f"{image}: the image runs as root (User {user!r}); stage runs only images "
                "with a non-root user (accounts.run-as in the spec)"
            )
        results = tuple(runtime.run_test(image_id, command, sandbox) for command in tests)
    finally:
        if not keep:
            runtime.remove(image_id)
    return StageReport(f"{image.name}@{image.digest}", results)
