"""Outputs never clobber inputs: every user-named output path may be new or hold a previous
output of the same kind; anything else (the spec, the lock, a user's file) is refused with one
line, exit 2, and is left byte for byte as it was."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from hostile_kit import run_zerocve

from support.aptrepo import AptRepo
from zerocve.errors import UsageError
from zerocve.outputs import OutputKind, check_file, check_layout_dir

REFUSED = "exists and is not {} zerocve wrote; refusing to replace it (name a new path, or " \
          "remove it first)"


def zerocve(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_zerocve(*map(str, args), cwd=cwd, timeout=300)


def assert_refused(done: subprocess.CompletedProcess[str], path: Path, kind: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {path}: {REFUSED.format(kind)}"]


@pytest.fixture(scope="module")
def project(apt_repo: AptRepo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spec and its lock, as a user keeps them side by side."""
    root = tmp_path_factory.mktemp("project")
    (root / "app.yaml").write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": list(apt_repo.suites),
                          "keyring": str(apt_repo.keyring)}],
        "packages": ["netbase"]}}))
    assert zerocve("lock", root / "app.yaml").returncode == 0
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["app.yaml", "app.lock.json"])
def test_build_tar_over_an_input_is_refused(project: Path, victim: str) -> None:
    before = snapshot(project)
    done = zerocve("build", "app.yaml", "--tar", victim, cwd=project)
    assert_refused(done, Path(victim), "an oci-archive")
    assert snapshot(project) == before


@pytest.mark.slow
def test_build_tar_over_a_foreign_tarball_is_refused(project: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup.tar"
    with tarfile.open(backup, "w") as tar:
        info = tarfile.TarInfo("home/me/notes.txt")
        tar.addfile(info, io.BytesIO(b""))
    data = backup.read_bytes()
    assert_refused(zerocve("build", project / "app.yaml", "--tar", backup), backup,
                   "an oci-archive")
    assert backup.read_bytes() == data


@pytest.mark.slow
def test_sbom_beside_the_image_never_replaces_a_users_file(project: Path, tmp_path: Path) -> None:
    """``-o out`` writes out.spdx.json too: a file of that name that is not an SPDX document
    stops the build before the layout is written."""
    precious = tmp_path / "out.spdx.json"
    precious.write_text('{"my": "settings"}\n')
    done = zerocve("build", project / "app.yaml", "-o", tmp_path / "out", "--no-scan")
    assert_refused(done, precious, "an SPDX document")
    assert precious.read_text() == '{"my": "settings"}\n'
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_build_replaces_its_own_previous_outputs(project: Path, tmp_path: Path) -> None:
    outputs = [tmp_path / "app.tar", tmp_path / "app.tar.spdx.json"]
    inodes = []
    for _ in range(2):
        done = zerocve("build", project / "app.yaml", "--tar", tmp_path / "app.tar", "--no-scan")
        assert done.returncode == 0, done.stderr
        inodes.append([path.stat().st_ino for path in outputs])
    assert json.loads((tmp_path / "app.tar.spdx.json").read_text())["spdxVersion"]
    assert inodes[0] == inodes[1]  # the same bytes again: nothing was rewritten
    outputs[1].write_text('{"spdxVersion": "SPDX-2.3", "edited": true}\n')  # still an SBOM
    assert zerocve("build", project / "app.yaml", "--tar", outputs[0], "--no-scan").returncode == 0
    assert "edited" not in outputs[1].read_text()  # other bytes: replaced


@pytest.mark.slow
def test_lock_output_over_the_spec_is_refused(project: Path) -> None:
    before = snapshot(project)
    done = zerocve("lock", "app.yaml", "-o", "app.yaml", cwd=project)
    assert_refused(done, Path("app.yaml"), "a lock file")
    assert snapshot(project) == before
    assert zerocve("lock", "app.yaml", cwd=project).returncode == 0  # a lock over a lock


@pytest.fixture(scope="module")
def status_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rootfs")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=\"12\"\n"
                                         "VERSION_CODENAME=bookworm\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n"
        "Source: zlib\nVersion: 1:1.2.13.dfsg-1\n")
    return root


@pytest.mark.parametrize(("fmt", "kind"), [("json", "a JSON report"),
                                           ("sarif", "a SARIF report"),
                                           ("table", "a table report")])
def test_scan_file_over_the_spec_is_refused_before_scanning(
    project_like: Path, fmt: str, kind: str
) -> None:
    spec = project_like / "app.yaml"
    before = spec.read_bytes()
    # No advisory DB: the refusal comes first, before any work.
    done = zerocve("scan", "dir:/nonexistent", "-o", fmt, "--file", spec,
                   "--db", project_like / "none.db")
    assert_refused(done, spec, kind)
    assert spec.read_bytes() == before


@pytest.fixture
def project_like(tmp_path: Path) -> Path:
    (tmp_path / "app.yaml").write_text("contents: {packages: [netbase]}\n")
    return tmp_path


def test_scan_replaces_a_report_of_its_own_kind_only(
    status_root: Path, tracker_db: Path, tmp_path: Path
) -> None:
    """Each format recognises its own earlier report (the second run replaces the first)."""
    for fmt in ("table", "json", "sarif", "cyclonedx", "openvex"):
        for _ in range(2):
            done = zerocve("scan", status_root, "--db", tracker_db, "-o", fmt, "--file",
                           tmp_path / fmt)
            assert done.returncode == 0, (fmt, done.stderr)
    written = (tmp_path / "json").read_bytes()
    done = zerocve("scan", status_root, "--db", tracker_db, "-o", "sarif", "--file",
                   tmp_path / "json")
    assert_refused(done, tmp_path / "json", "a SARIF report")
    assert (tmp_path / "json").read_bytes() == written


def test_sbom_file_kinds(status_root: Path, project_like: Path) -> None:
    out = project_like / "sbom.json"
    for _ in range(2):
        done = zerocve("sbom", f"dir:{status_root}", "-o", "spdx-json", "--file", out)
        assert done.returncode == 0, done.stderr
    assert_refused(zerocve("sbom", f"dir:{status_root}", "-o", "cyclonedx-json", "--file", out),
                   out, "a CycloneDX document")
    spec = project_like / "app.yaml"
    assert_refused(zerocve("sbom", f"dir:{status_root}", "--file", spec), spec, "an SPDX document")


def test_diff_file_never_replaces_a_patch(status_root: Path, tmp_path: Path) -> None:
    patch = tmp_path / "fix.patch"
    patch.write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    done = zerocve("diff", f"dir:{status_root}", f"dir:{status_root}", "--packages-only",
                   "--file", patch)
    assert_refused(done, patch, "a diff table")
    report = tmp_path / "diff.txt"
    for _ in range(2):
        done = zerocve("diff", f"dir:{status_root}", f"dir:{status_root}", "--packages-only",
                       "--file", report)
        assert done.returncode == 0, done.stderr
    assert report.read_text().endswith("no difference\n")


def test_layout_dir_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/main.c").write_text("int main;\n")
    with pytest.raises(UsageError, match="src: exists and is not an OCI image layout"):
        check_layout_dir(tmp_path / "src")
    with pytest.raises(UsageError, match="exists and is not an OCI image layout"):
        check_layout_dir(tmp_path / "src/main.c")
    check_layout_dir(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_layout_dir(tmp_path / "empty")
    with pytest.raises(UsageError, match="is not an SPDX document zerocve wrote"):
        check_file(Path("/dev/null"), OutputKind.SPDX)
    with pytest.raises(UsageError, match="is not a lock file zerocve wrote"):
        check_file(tmp_path / "src", OutputKind.LOCK)
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "src/main.c")
    with pytest.raises(UsageError, match="link.json: exists and is not a JSON report"):
        check_file(link, OutputKind.SCAN_JSON)
