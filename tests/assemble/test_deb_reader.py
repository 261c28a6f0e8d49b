"""debian/deb.py against real .debs (checked with dpkg-deb) and crafted malicious ones."""

from __future__ import annotations

import hashlib
import lzma
import subprocess
import tarfile
from pathlib import Path

import pytest
from craft import Member, directory, make_deb, symlink

from zerocve.debian.deb import DebReader, read_control
from zerocve.errors import PackageError
from zerocve.oci.layer import EntryKind, content_chunks

_DPKG_TYPES = {"d": EntryKind.DIR, "-": EntryKind.FILE, "l": EntryKind.SYMLINK,
               "h": EntryKind.HARDLINK}


def _dpkg_deb_listing(deb: Path) -> list[tuple[str, EntryKind]]:
    out = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                         capture_output=True).stdout
    listing = subprocess.run(["tar", "-tvf", "-"], input=out, check=True,
                             capture_output=True).stdout.decode()
    result = []
    for line in listing.splitlines():
        kind = _DPKG_TYPES[line[0]]
        name = line.split(None, 5)[5]
        name = name.split(" -> ")[0].split(" link to ")[0]
        path = name.removeprefix("./").rstrip("/")
        if path:
            result.append((path, kind))
    return result


@pytest.mark.slow
def test_real_debs_match_dpkg_deb(closure) -> None:
    for package, deb in closure(["python3", "ca-certificates", "tzdata"]):
        with DebReader(deb) as reader:
            control = reader.control
            members = list(reader.members())
        assert control.package == package.name
        assert control.get("Version") == package.version
        assert [(m.path, m.kind) for m in members] == _dpkg_deb_listing(deb), package.name
        fields = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                                text=True).stdout
        assert control.stanza.strip() == fields.strip()
        for member in members:
            if member.kind is EntryKind.HARDLINK:
                target = next(m for m in members if m.path == member.target)
                assert member.data == target.data


@pytest.mark.slow
def test_real_control_md5sums_and_conffiles(closure) -> None:
    debs = {p.name: deb for p, deb in closure(["python3", "ca-certificates", "tzdata"])}
    libc = read_control(debs["libc6"])
    assert libc.get("Source") == "glibc"
    assert libc.get("Multi-Arch") == "same"
    assert libc.conffiles == ("/etc/ld.so.conf.d/x86_64-linux-gnu.conf",)
    with DebReader(debs["libc6"]) as reader:
        files = {m.path: m.data for m in reader.members() if m.kind is EntryKind.FILE}
    assert libc.md5sums  # every path listed is a shipped file with that md5
    for path, digest in libc.md5sums.items():
        content = b"".join(content_chunks(files[path]))  # large files are spilled to disk
        assert hashlib.md5(content).hexdigest() == digest, path


@pytest.mark.parametrize("suffix", ["xz", "zst", "gz", ""])
def test_every_data_compression(tmp_path: Path, suffix: str) -> None:
    deb = make_deb(tmp_path, "hello", [directory("./usr/"), directory("./usr/bin/"),
                                       Member("./usr/bin/hello", data=b"hi\n", mode=0o755)],
                   data_suffix=suffix, md5sums="764efa883dda1e11db47671c4a3bbd9e  usr/bin/hello\n")
    with DebReader(deb) as reader:
        assert reader.control.md5sums == {"usr/bin/hello": "764efa883dda1e11db47671c4a3bbd9e"}
        members = list(reader.members())
    assert [(m.path, m.kind) for m in members] == [
        ("usr", EntryKind.DIR), ("usr/bin", EntryKind.DIR), ("usr/bin/hello", EntryKind.FILE)]
    assert members[2].data == b"hi\n" and members[2].mode == 0o755
    # dpkg-deb agrees that the crafted package is well formed
    subprocess.run(["dpkg-deb", "--info", str(deb)], check=True, capture_output=True)


def _refused(tmp_path: Path, members: list[Member], **kwargs: object) -> str:
    deb = make_deb(tmp_path, "evil", members, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(PackageError) as caught:
        with DebReader(deb) as reader:
            list(reader.members())
    message = caught.value.diagnostics()
    assert "\n" not in message
    return message


def test_dot_dot_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [directory("./etc/"), Member("./../etc/evil", data=b"x")])
    assert "evil" in message and "../etc/evil" in message and "escapes the root" in message


def test_dot_dot_in_the_middle_refused(tmp_path: Path) -> None:
    assert "escapes" in _refused(tmp_path, [Member("./usr/../../etc/evil", data=b"x")])


def test_whiteout_name_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [directory("./usr/"), Member("./usr/.wh.bin")])
    assert "usr/.wh.bin" in message and "whiteout" in message


def test_absolute_name_refused(tmp_path: Path) -> None:
    assert "absolute" in _refused(tmp_path, [Member("/etc/evil", data=b"x")])


def test_absolute_hard_link_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [Member("./shadow", tarfile.LNKTYPE, linkname="/etc/shadow")])
    assert "hard link" in message and "/etc/shadow" in message


def test_hard_link_outside_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [Member("./x", tarfile.LNKTYPE, linkname="../etc/shadow")])
    assert "escapes" in message


def test_hard_link_to_missing_file_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [Member("./x", tarfile.LNKTYPE, linkname="./later")])
    assert "not a regular file earlier" in message


def test_entry_through_own_symlink_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, [symlink("./lib", "/etc"), Member("./lib/passwd", data=b"x")])
    assert "below symlink /lib" in message and "evil" in message


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_devices_and_fifos_refused(tmp_path: Path, kind: bytes) -> None:
    message = _refused(tmp_path, [directory("./dev/"), Member("./dev/thing", kind)])
    assert "dev/thing" in message and "refused" in message


def test_duplicate_member_refused(tmp_path: Path) -> None:
    assert "duplicate" in _refused(tmp_path, [Member("./a", data=b"1"), Member("./a", data=b"2")])


def test_unknown_compression_refused(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "odd", [Member("./a", data=b"1")], data_suffix="bz2")
    with pytest.raises(PackageError, match=r"data\.tar\.bz2: unsupported compression 'bz2'"):
        with DebReader(deb) as reader:
            list(reader.members())


def test_truncated_deb(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "cut", [Member("./a", data=bytes(range(256)) * 400)])
    deb.write_bytes(deb.read_bytes()[:-2000])
    with pytest.raises(PackageError, match="cut"):
        with DebReader(deb) as reader:
            list(reader.members())


def test_not_a_deb(tmp_path: Path) -> None:
    path = tmp_path / "x.deb"
    path.write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(PackageError, match=r"x\.deb: not a Debian package"):
        read_control(path)


def test_symlink_targets_may_be_absolute(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "links", [directory("./etc/"),
                                       symlink("./etc/os-release", "../usr/lib/os-release"),
                                       symlink("./etc/mtab", "/proc/self/mounts")])
    with DebReader(deb) as reader:
        targets = {m.path: m.target for m in reader.members()}
    assert targets == {"etc": "", "etc/os-release": "../usr/lib/os-release",
                       "etc/mtab": "/proc/self/mounts"}


def test_sparse_file_refused(tmp_path: Path) -> None:
    """GNU tar's sparse members (as ``tar --sparse`` writes them) are refused, as the module
    says: tarfile took them for regular files and expanded them."""
    deb = make_deb(tmp_path, "holes", [Member("./a", data=b"1")])
    parts = tmp_path / "holes.parts"
    root = tmp_path / "root"
    (root / "usr").mkdir(parents=True)
    with open(root / "usr" / "holes", "wb") as f:
        f.truncate(1 << 20)
        f.write(b"data")
    data = subprocess.run(["tar", "--format=gnu", "--sparse", "-C", str(root), "-cf", "-",
                           "./usr/holes"], check=True, capture_output=True).stdout
    assert data[156:157] == b"S"
    (parts / "data.tar.xz").write_bytes(lzma.compress(data))
    deb.unlink()
    subprocess.run(["ar", "rc", str(deb), "debian-binary", "control.tar.xz", "data.tar.xz"],
                   cwd=parts, check=True)
    with DebReader(deb) as reader, \
            pytest.raises(PackageError, match=r"holes 1\.0: \./usr/holes: unsupported tar "
                                              r"member type"):
        list(reader.members())


@pytest.mark.parametrize(("extra", "message"), [
    ({"X-Note": "one\nnot a field"}, "expected 'Field: value'"),
    ({"architecture": "amd64"}, "field 'architecture' given twice"),
    # dpkg's own field, in a case the status file's writer would not have replaced: the
    # package would have said it is not installed, and scanners would have skipped it.
    ({"status": "deinstall ok config-files"}, "field 'status' is dpkg's own"),
])
def test_a_control_file_dpkg_would_refuse_is_refused(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    deb = make_deb(tmp_path, "odd", [Member("./a", data=b"a")], control_extra=extra)
    with pytest.raises(PackageError, match=rf"^odd_1\.0_all\.deb: control\.tar\.xz: control: "
                                           rf".*{message}"):
        read_control(deb)
