"""One entry check for every tar archive zerocve reads or writes: the rules that refuse a
hostile ``.deb`` member also guard every layer zerocve writes, as a last line of defense
against an entry (from a spec field, an account, a generated file) landing anywhere but the
path it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hostile_kit import one_error_line, run_zerocve

from assemble.craft import Member, make_deb, symlink
from support.aptrepo import AptRepo
from zerocve.debian.deb import DebReader
from zerocve.errors import BuildError, PackageError
from zerocve.oci.layer import Entry, EntryKind, tar_bytes

EPOCH = 1_700_000_000


def _dir(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, 0o755)


def _file(path: str) -> Entry:
    return Entry(path, EntryKind.FILE, 0o644, data=b"x")


LAYERS = {
    "home-climbing-out": ([_dir("../../../tmp/x")], "path escapes the root ('..')"),
    "dotdot-in-the-middle": ([_dir("home/../../etc")], "path escapes the root ('..')"),
    "absolute": ([_file("/etc/passwd")], "absolute path"),
    "whiteout": ([_file("usr/.wh.bin")], "'.wh.' names are OCI whiteouts"),
    "newline": ([_file("etc/a\nroot")], "newline in a file name"),
    "double-slash": ([_file("etc//passwd")], "not a normalised relative path"),
    "dot-prefix": ([_file("./etc/passwd")], "not a normalised relative path"),
    "trailing-slash": ([_dir("etc/")], "not a normalised relative path"),
    "the-root-itself": ([_dir("")], "not a normalised relative path"),
    "below-own-symlink": ([Entry("app", EntryKind.SYMLINK, 0o777, target="/etc"),
                           _file("app/passwd")],
                          "lies below symlink /app of the same archive"),
    "below-own-file": ([_file("app"), _dir("app/sub")], "lies below file /app"),
    "duplicate": ([_file("a"), _file("a")], "duplicate member"),
}


@pytest.mark.parametrize(("entries", "message"), list(LAYERS.values()), ids=list(LAYERS))
def test_layer_writer_refuses(entries: list[Entry], message: str) -> None:
    with pytest.raises(BuildError, match="layer entry") as caught:
        tar_bytes(entries, EPOCH)
    assert message in caught.value.diagnostics()
    assert "\n" not in caught.value.diagnostics().replace("\\n", "")


def test_deb_reader_uses_the_same_check(tmp_path: Path) -> None:
    """A newline name (dpkg refuses it) and a file below a symlink of the same package."""
    for members, message in [
        ([Member("./etc/a\nroot:x:0:0::/:/bin/sh", data=b"x")], "newline in a file name"),
        ([symlink("./lib", "/etc"), Member("./lib/passwd", data=b"x")],
         "lies below symlink /lib of the same archive"),
    ]:
        deb = make_deb(tmp_path, "zz-evil", members)
        with pytest.raises(PackageError, match=message), DebReader(deb) as reader:
            list(reader.members())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"paths": [{"path": "/lib/evil", "type": "empty-file"}]}, "lib/evil"),
        ({"accounts": {"groups": [{"groupname": "app", "gid": 10}],
                       "users": [{"username": "app", "uid": 10, "gid": 10,
                                  "home": "/bin/app"}]}}, "bin/app"),
    ],
    ids=["paths-entry", "home"],
)
def test_build_refuses_writing_through_the_merged_usr_links(
    apt_repo: AptRepo, tmp_path: Path, extra: dict[str, object], path: str
) -> None:
    """/lib and /bin are symlinks into /usr in every image: an entry below them in the same
    layer would be extracted through the link."""
    spec = tmp_path / "app.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": apt_repo.uri, "suites": list(apt_repo.suites),
                          "keyring": str(apt_repo.keyring)}],
        "packages": ["netbase"]}, **extra}))
    out = tmp_path / "out"
    done = run_zerocve("build", str(spec), "-o", str(out), "--no-scan", timeout=300)
    assert done.returncode == 3
    top = path.split("/")[0]
    assert one_error_line(done) == (
        f"error: layer entry '{path}': lies below symlink /{top} of the same archive (it would "
        "be written through it, escaping the path it names)")
    assert not out.exists()
