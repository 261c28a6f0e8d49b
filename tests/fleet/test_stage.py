"""Staging runs in real podman (runc) on an image pulled back from the registry fixture: each
sandbox setting is checked from inside the container, by the test commands themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.aptrepo import AptRepo
from support.fleetkit import push_spec, write_spec
from support.registry import Registry
from zerocve.errors import StageError
from zerocve.fleet.stage import (
    Podman,
    Sandbox,
    is_root_user,
    not_started,
    run_argv,
    stage,
)
from zerocve.oci.reference import Reference, parse_reference

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shell_image(
    apt_repo: AptRepo, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """dash, coreutils and grep, as the default non-root user, pushed under a staging tag."""
    spec = write_spec(
        tmp_path_factory.mktemp("stage"), "shell", apt_repo, ["dash", "coreutils", "grep"]
    )
    ref = parse_reference(f"{registry.host}/fleet/shell-staging:stage-1")
    return ref.with_digest(push_spec(spec, str(ref)))


def sh(script: str) -> list[str]:
    return ["/bin/sh", "-c", script]


def test_sandbox_holds_inside_the_container(shell_image: Reference):
    report = stage(
        shell_image,
        [
            sh("test \"$(id -u)\" = 65532"),
            # Only loopback: no eth0, nothing routable.
            sh("test \"$(ls /sys/class/net)\" = lo"),
            sh("! touch /usr/probe 2>/dev/null"),
            sh("grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status"),
            sh("grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status"),
            sh("test \"$(cat /sys/fs/cgroup/pids.max 2>/dev/null "
               "|| cat /sys/fs/cgroup/pids/pids.max)\" = 64"),
            sh("echo out; echo err >&2"),
        ],
        Sandbox(memory="128m", pids=64, timeout=60),
    )
    failed = [(t.describe(), t.output) for t in report.tests if not t.passed]
    assert not failed
    assert report.passed and report.reason == ""
    assert report.image == f"{shell_image.name}@{shell_image.digest}"
    assert report.tests[-1].output.splitlines() == ["out", "err"]


def test_a_kept_image_stays_pulled_until_the_fleet_lets_it_go(
    shell_image: Reference, tmp_path: Path
):
    storage = tmp_path / "podman"
    runtime = Podman("podman", storage)
    stage(shell_image, [sh("true")], storage=storage)
    assert runtime.images() == {}  # removed after its tests, as by default
    stage(shell_image, [sh("true")], storage=storage, keep=True)
    assert list(runtime.images().values()) == [shell_image.digest]
    runtime.keep_only({shell_image.digest})
    assert list(runtime.images().values()) == [shell_image.digest]
    runtime.keep_only(set())
    assert runtime.images() == {}


def test_failing_and_hanging_tests_are_recorded_and_all_run(shell_image: Reference):
    report = stage(
        shell_image,
        [sh("echo broken; exit 7"), ["/bin/sleep", "600"], sh("echo fine")],
        Sandbox(timeout=3),
    )
    broken, hung, fine = report.tests
    assert (broken.exit_code, broken.output.strip(), broken.passed) == (7, "broken", False)
    assert hung.timed_out and hung.exit_code is None and hung.seconds < 30
    assert fine.passed
    assert not report.passed
    assert report.reason == "test [/bin/sh -c echo broken; exit 7] exited 7 (and 1 more)"


def test_a_missing_podman_is_one_line(shell_image: Reference):
    with pytest.raises(StageError, match=r"^no-such-podman: not found on PATH; install podman"):
        stage(shell_image, [["/bin/true"]], podman="no-such-podman")


def test_a_container_runtime_that_cannot_start_is_an_operational_error(
    shell_image: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Without the settings these machines need, runc cannot even create the container.
    (tmp_path / "defaults.conf").write_text("[containers]\n")
    monkeypatch.setenv("CONTAINERS_CONF", str(tmp_path / "defaults.conf"))
    with pytest.raises(StageError, match=r"^podman run \[/bin/true\]: the container did not"):
        stage(shell_image, [["/bin/true"]])
    assert not_started(125, "") and not not_started(126, "sh: 1: ./x: Permission denied")


def test_an_image_that_runs_as_root_is_refused(
    apt_repo: AptRepo, registry: Registry, tmp_path: Path
):
    spec = write_spec(
        tmp_path, "rooted", apt_repo, ["dash"],
        accounts={"run-as": "root"},
    )
    ref = parse_reference(f"{registry.host}/fleet/rooted-staging:stage-1")
    ref = ref.with_digest(push_spec(spec, str(ref)))
    with pytest.raises(StageError, match=r"runs as root \(User '0:0'\)"):
        stage(ref, [["/bin/true"]])


def test_an_image_not_in_the_registry_is_one_line(registry: Registry):
    missing = parse_reference(f"{registry.host}/fleet/absent@sha256:{'0' * 64}")
    with pytest.raises(StageError, match=r"^podman pull .*absent.*: exit \d+: "):
        stage(missing, [["/bin/true"]])


def test_run_argv_keeps_the_sandbox_and_replaces_the_entrypoint():
    argv = run_argv(["podman"], "abc123", ["python3", "-c", "print(1)"], Sandbox(), "n")
    assert argv[-1] == "abc123"
    assert '--entrypoint=["python3", "-c", "print(1)"]' in argv
    for flag in ("--network=none", "--read-only", "--cap-drop=all",
                 "--security-opt=no-new-privileges", "--pids-limit=256", "--memory=512m"):
        assert flag in argv
    assert [is_root_user(u) for u in ("", "0", "0:0", "root", "65532:65532", "nonroot")] == [
        True, True, True, True, False, False,
    ]
