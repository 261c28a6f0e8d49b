"""Deterministic layer tarballs, and the grouping of packages into layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
from pathlib import Path

import pytest
from craft import Member, crafted, directory

from zerocve.assemble.layers import package_layer_entries, plan_layers, with_parents
from zerocve.assemble.rootfs import merge, unpack
from zerocve.errors import BuildError
from zerocve.oci.layer import (
    Entry,
    EntryKind,
    Spilled,
    make_layer,
    normalise_name,
    parents,
    sha256_digest,
    spill_file,
    tar_bytes,
)

EPOCH = 1_700_000_000


def _members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getmembers()


def test_tar_is_sorted_numeric_clamped_and_gnu() -> None:
    entries = [
        Entry("usr/bin/b", EntryKind.FILE, 0o755, 1000, 1000, EPOCH + 50, data=b"b"),
        Entry("usr", EntryKind.DIR, 0o755, mtime=EPOCH - 10),
        Entry("usr-local", EntryKind.FILE, 0o644, mtime=1),
        Entry("usr/bin", EntryKind.DIR, 0o755, mtime=EPOCH - 10),
        Entry("usr/bin/a", EntryKind.SYMLINK, 0o777, target="b"),
        Entry("x" * 150 + "/long", EntryKind.FILE, 0o600, data=b"l"),
    ]
    data = tar_bytes(entries, EPOCH)
    members = _members(data)
    assert [m.name for m in members] == ["usr", "usr/bin", "usr/bin/a", "usr/bin/b",
                                         "usr-local", "x" * 150 + "/long"]
    assert all(m.uname == "" and m.gname == "" for m in members)
    assert members[3].uid == 1000 and members[3].mtime == EPOCH  # clamped
    assert members[1].mtime == EPOCH - 10  # older mtimes kept
    assert b"PaxHeader" not in data and b"././@LongLink" in data
    assert tar_bytes(reversed(entries), EPOCH) == data  # input order does not matter


def test_duplicate_paths_refused() -> None:
    with pytest.raises(BuildError, match="layer entry 'a': duplicate member"):
        tar_bytes([Entry("a", EntryKind.DIR, 0o755), Entry("a", EntryKind.DIR, 0o755)], EPOCH)


def test_hard_links_follow_their_file_or_become_copies() -> None:
    entries = [
        Entry("b/file", EntryKind.FILE, 0o644, data=b"content"),
        Entry("a/link", EntryKind.HARDLINK, 0o644, data=b"content", target="b/file"),
        Entry("c/other", EntryKind.HARDLINK, 0o644, data=b"elsewhere", target="z/missing"),
    ]
    members = {m.name: m for m in _members(tar_bytes(entries, EPOCH))}
    assert members["a/link"].isreg() and members["a/link"].size == 7  # sorts first: the file
    assert members["b/file"].islnk() and members["b/file"].linkname == "a/link"
    assert members["c/other"].isreg() and members["c/other"].size == 9  # target not here


def test_make_layer_digests() -> None:
    layer = make_layer([Entry("a", EntryKind.FILE, 0o644, data=b"1")], EPOCH, "test")
    assert layer.digest == "sha256:" + hashlib.sha256(layer.data).hexdigest()
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(layer.data)).hexdigest()
    assert layer.data[:4] == b"\x1f\x8b\x08\x00"  # no FNAME flag
    assert layer.data[4:8] == bytes(4)  # mtime 0


def test_tar_is_what_tarfile_writes(tmp_path: Path) -> None:
    """The layer writer skips tarfile's member copies, not its format: for the same members
    (long names, links, a spilled file, contents ending on and off a block boundary) the
    bytes are exactly ``tarfile.TarFile.addfile``'s, end blocks and record padding included."""
    big = bytes(range(256)) * 8_000
    with spill_file() as spill:
        entries = [
            Entry("d", EntryKind.DIR, 0o755, mtime=EPOCH - 5),
            Entry("d/block", EntryKind.FILE, 0o644, 7, 8, EPOCH, data=b"x" * 512),
            Entry("d/big", EntryKind.FILE, 0o600, data=Spilled.copy(io.BytesIO(big).read, len(big),
                                                                    spill)),
            Entry("d/" + "n" * 200, EntryKind.FILE, 0o644, data=b"odd"),
            Entry("d/link", EntryKind.SYMLINK, 0o777, target="../" + "t" * 150),
            Entry("d/hard", EntryKind.HARDLINK, 0o644, data=b"odd", target="d/" + "n" * 200),
            Entry("d/empty", EntryKind.FILE, 0o644),
        ]
        expected = io.BytesIO()
        with tarfile.open(fileobj=expected, mode="w", format=tarfile.GNU_FORMAT,
                          encoding="utf-8") as tar:
            for kind, name, size, data, link in [
                (tarfile.DIRTYPE, "d", 0, None, ""),
                (tarfile.REGTYPE, "d/big", len(big), big, ""),
                (tarfile.REGTYPE, "d/block", 512, b"x" * 512, ""),
                (tarfile.REGTYPE, "d/empty", 0, b"", ""),
                (tarfile.REGTYPE, "d/hard", 3, b"odd", ""),  # sorts first: the file
                (tarfile.SYMTYPE, "d/link", 0, None, "../" + "t" * 150),
                (tarfile.LNKTYPE, "d/" + "n" * 200, 0, None, "d/hard"),
            ]:
                entry = next(e for e in entries if e.path == name)
                info = tarfile.TarInfo(name)
                info.type, info.size, info.linkname = kind, size, link
                info.mode, info.uid, info.gid = entry.mode, entry.uid, entry.gid
                info.uname = info.gname = ""
                info.mtime = min(entry.mtime, EPOCH)
                tar.addfile(info, None if data is None else io.BytesIO(data))
        assert tar_bytes(entries, EPOCH) == expected.getvalue()


def test_with_parents_uses_image_metadata() -> None:
    paths = {"var": Entry("var", EntryKind.DIR, 0o700, 5, 6, 1)}
    out = {e.path: e for e in with_parents([Entry("var/lib/x", EntryKind.FILE, 0o644)],
                                           paths, 42)}
    assert out["var"] == Entry("var", EntryKind.DIR, 0o700, 5, 6, 42)
    assert out["var/lib"] == Entry("var/lib", EntryKind.DIR, 0o755, 0, 0, 42)


def _packages(tmp_path: Path, spec: dict[str, tuple[str, int]]):
    """name -> (source, payload size)"""
    return [
        unpack(*crafted(tmp_path, name, [directory("./usr/"),
                                         Member(f"./usr/{name}", data=b"x" * size)],
                        source=source))
        for name, (source, size) in spec.items()
    ]


def test_one_layer_per_source_sorted(tmp_path: Path) -> None:
    packages = _packages(tmp_path, {"libssl3": ("openssl", 10), "openssl": ("openssl", 10),
                                    "zlib1g": ("zlib", 5), "bash": ("bash", 1)})
    plans = plan_layers(packages)
    assert [p.comment for p in plans] == ["source bash: bash",
                                          "source openssl: libssl3 openssl",
                                          "source zlib: zlib1g"]


def test_layer_cap_keeps_the_largest_groups(tmp_path: Path) -> None:
    packages = _packages(tmp_path, {"a": ("a", 1), "b": ("b", 50), "c": ("c", 2),
                                    "d": ("d", 40), "e": ("e", 3)})
    plans = plan_layers(packages, max_layers=4)  # 3 package layers: shared + 2 own
    assert [[p.name for p in plan.packages] for plan in plans] == [["a", "c", "e"], ["b"], ["d"]]
    assert plans[0].comment == "shared layer of 3 small source packages: a c e"


def test_package_layer_holds_files_info_and_parents(tmp_path: Path) -> None:
    packages = _packages(tmp_path, {"tool": ("tool", 3)})
    rootfs = merge(packages)
    entries = {e.path: e for e in package_layer_entries(plan_layers(packages)[0], rootfs)}
    assert sorted(entries) == ["usr", "usr/tool", "var", "var/lib", "var/lib/dpkg",
                               "var/lib/dpkg/info", "var/lib/dpkg/info/tool.list"]
    assert entries["var/lib/dpkg/info/tool.list"].data == b"/.\n/usr\n/usr/tool\n"
    # dated with the package's own files, not the build date: unchanged packages keep
    # byte-identical layers when the lock's date moves
    assert entries["var/lib/dpkg/info/tool.list"].mtime == packages[0].newest_mtime


def test_spilled_content_makes_the_same_layer_as_bytes(tmp_path: Path) -> None:
    """A large file kept on disk (``Spilled``) is written exactly as the same bytes in memory,
    and a layer streamed to its digest equals the in-memory tar."""
    data = bytes(range(256)) * 20_000
    with spill_file() as spill:
        spilled = Spilled.copy(io.BytesIO(data).read, len(data), spill)
        as_bytes = [Entry("big", EntryKind.FILE, 0o644, data=data)]
        on_disk = [Entry("big", EntryKind.FILE, 0o644, data=spilled)]
        assert tar_bytes(on_disk, 0) == tar_bytes(as_bytes, 0)
        layer = make_layer(on_disk, 0, "big")
        assert layer.diff_id == sha256_digest(tar_bytes(as_bytes, 0))
        assert layer == make_layer(as_bytes, 0, "big")
        assert gzip.decompress(layer.data) == tar_bytes(as_bytes, 0)


def test_parents_are_dirname_s_chain() -> None:
    """``parents`` walks what ``posixpath.dirname`` would, for every normalised path: here
    those of the Python standard library's tree (deep and shallow alike) and a top-level one."""
    library = Path(tarfile.__file__).parent
    names = ["x", *(str(p.relative_to("/")) for p in library.rglob("*"))]
    assert len(names) > 1000
    for name in names:
        assert normalise_name(name) == name
        chain = []
        parent = posixpath.dirname(name)
        while parent:
            chain.append(parent)
            parent = posixpath.dirname(parent)
        assert list(parents(name)) == chain, name
