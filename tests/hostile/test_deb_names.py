"""File names inside a .deb: a newline is refused as dpkg refuses it, and a name that is not
UTF-8 is refused with one line (dpkg's .list and zerocve's SBOM are UTF-8 text); neither may
crash the build (exit 1 used to mean "findings")."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
import yaml
from hostile_kit import one_error_line, run_zerocve

from assemble.craft import Member, make_deb


def _build(apt_repo, tmp_path: Path, suite: str, name: str) -> tuple[int, str, Path]:
    deb = make_deb(tmp_path / "debs", "zz-names", [Member("./usr/", tarfile.DIRTYPE),
                                                      Member(name, data=b"x")])
    apt_repo.publish([deb], suite)
    spec = tmp_path / "image.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": [suite],
                          "keyring": str(apt_repo.keyring)}],
        "packages": ["zz-names"],
    }}))
    out = tmp_path / "out"
    done = run_zerocve("build", str(spec), "-o", str(out))
    return done.returncode, one_error_line(done) if done.returncode else done.stderr, out


@pytest.mark.parametrize(
    ("suite", "name", "said"),
    [
        ("zerocve-newline", "./usr/evil\nname", "newline"),
        # GNU tar stores bytes; tarfile reads 0xff back as a surrogate escape.
        ("zerocve-latin1", "./usr/caf\udce9", "is not UTF-8"),
    ],
)
def test_hostile_member_name_is_one_line_exit_3(
    apt_repo, tmp_path: Path, suite: str, name: str, said: str
) -> None:
    code, line, out = _build(apt_repo, tmp_path, suite, name)
    assert code == 3, line
    assert "zz-names" in line and said in line and "\n" not in line
    assert not out.exists()
