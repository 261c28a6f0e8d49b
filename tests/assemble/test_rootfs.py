"""Merged /usr and the cross-package conflict rule, on crafted packages."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from craft import Member, Record, crafted, directory, make_deb, symlink

from zerocve.assemble.rootfs import canonical_path, merge, unpack, usr_merge_links
from zerocve.errors import BuildError, PackageError
from zerocve.oci.layer import EntryKind


def _unpacked(tmp_path: Path, name: str, members: list[Member], **kwargs: object):
    record, deb = crafted(tmp_path, name, members, **kwargs)
    return unpack(record, deb)


def test_canonical_path() -> None:
    assert canonical_path("bin/ls") == "usr/bin/ls"
    assert canonical_path("lib64/ld-linux-x86-64.so.2") == "usr/lib64/ld-linux-x86-64.so.2"
    assert canonical_path("sbin") == "usr/sbin"
    assert canonical_path("usr/bin/ls") == "usr/bin/ls"
    assert canonical_path("library/x") == "library/x"
    assert canonical_path("etc/bin/x") == "etc/bin/x"


def test_merged_usr_rewrites_entries_and_keeps_shipped_paths(tmp_path: Path) -> None:
    pkg = _unpacked(tmp_path, "tool", [
        directory("./bin/"), Member("./bin/tool", data=b"t", mode=0o755),
        Member("./bin/tool2", tarfile.LNKTYPE, linkname="./bin/tool"),
        directory("./usr/"), directory("./usr/bin/"),
    ])
    assert [(e.path, e.kind) for e in pkg.entries] == [
        ("usr/bin", EntryKind.DIR), ("usr/bin/tool", EntryKind.FILE),
        ("usr/bin/tool2", EntryKind.HARDLINK), ("usr", EntryKind.DIR)]
    assert pkg.entries[2].target == "usr/bin/tool"
    rootfs = merge([pkg])
    assert rootfs.listed(pkg) == ["/.", "/bin", "/bin/tool", "/bin/tool2", "/usr", "/usr/bin"]
    assert usr_merge_links(rootfs.paths) == ["bin", "sbin", "lib"]


def test_lib64_link_only_when_shipped(tmp_path: Path) -> None:
    pkg = _unpacked(tmp_path, "ld", [directory("./lib64/"),
                                     symlink("./lib64/ld.so", "/lib/x86_64-linux-gnu/ld.so")])
    assert usr_merge_links(merge([pkg]).paths) == ["bin", "sbin", "lib", "lib64"]


def test_top_level_bin_as_a_file_conflicts_with_merged_usr(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"ships /bin as a symlink.*merged /usr"):
        _unpacked(tmp_path, "old", [symlink("./bin", "usr/bin")])


def test_same_file_in_bin_and_usr_bin_of_one_package(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"split: ships /usr/bin/x twice"):
        _unpacked(tmp_path, "split", [directory("./bin/"), Member("./bin/x", data=b"1"),
                                      directory("./usr/"), directory("./usr/bin/"),
                                      Member("./usr/bin/x", data=b"2")])


def test_deb_must_be_the_locked_package(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "real", [Member("./a", data=b"1")], version="2.0")
    with pytest.raises(PackageError, match=r"is real 2\.0 all, but the lock names real 1\.0 all"):
        unpack(Record("real"), deb)


def test_identical_files_are_kept_in_both_packages(tmp_path: Path) -> None:
    a = _unpacked(tmp_path, "a", [directory("./etc/"), Member("./etc/shared", data=b"same")])
    b = _unpacked(tmp_path, "b", [directory("./etc/"), Member("./etc/shared", data=b"same")])
    rootfs = merge([a, b])
    assert [e.path for e in rootfs.kept["a"]] == ["etc", "etc/shared"]
    assert [e.path for e in rootfs.kept["b"]] == ["etc", "etc/shared"]
    assert rootfs.owners["etc/shared"] == "a"


def test_directories_merge_first_mode_wins(tmp_path: Path) -> None:
    a = _unpacked(tmp_path, "a", [Member("./var/", tarfile.DIRTYPE, mode=0o755)])
    b = _unpacked(tmp_path, "b", [Member("./var/", tarfile.DIRTYPE, mode=0o775)])
    rootfs = merge([a, b])
    assert rootfs.kept["b"][0].mode == 0o755


def test_real_conflict_names_both_packages_and_the_path(tmp_path: Path) -> None:
    a = _unpacked(tmp_path, "alpha", [directory("./etc/"), Member("./etc/conf", data=b"1")])
    b = _unpacked(tmp_path, "beta", [directory("./etc/"), Member("./etc/conf", data=b"2")])
    with pytest.raises(BuildError) as caught:
        merge([a, b])
    assert caught.value.diagnostics() == (
        "/etc/conf: conflicting files in alpha (file) and beta (file), and neither Replaces "
        "the other")


def test_file_versus_directory_conflict(tmp_path: Path) -> None:
    a = _unpacked(tmp_path, "alpha", [directory("./opt/")])
    b = _unpacked(tmp_path, "beta", [Member("./opt", data=b"file")])
    with pytest.raises(BuildError, match=r"/opt: conflicting files in alpha \(dir\) and beta"):
        merge([a, b])


@pytest.mark.parametrize("later_replaces", [True, False])
def test_replaces_decides_the_winner(tmp_path: Path, later_replaces: bool) -> None:
    replaces = {"Replaces": "old (<< 2.0)"}
    old = _unpacked(tmp_path, "old", [directory("./etc/"), Member("./etc/conf", data=b"old")],
                    control_extra=None if later_replaces else {"Replaces": "new"})
    new = _unpacked(tmp_path, "new", [directory("./etc/"), Member("./etc/conf", data=b"new")],
                    control_extra=replaces if later_replaces else None)
    rootfs = merge([old, new])
    winner, loser = (new, old) if later_replaces else (old, new)
    assert rootfs.paths["etc/conf"].data == winner.name.encode()
    assert "etc/conf" in [e.path for e in rootfs.kept[winner.name]]
    assert "etc/conf" not in [e.path for e in rootfs.kept[loser.name]]
    assert "/etc/conf" not in rootfs.listed(loser)
    assert "/etc/conf" in rootfs.listed(winner)


def test_versioned_replaces_that_does_not_match_is_a_conflict(tmp_path: Path) -> None:
    old = _unpacked(tmp_path, "old", [Member("./conf", data=b"old")])
    new = _unpacked(tmp_path, "new", [Member("./conf", data=b"new")],
                    control_extra={"Replaces": "old (<< 1.0)"})  # old is 1.0: not replaced
    with pytest.raises(BuildError, match="neither Replaces"):
        merge([old, new])


def test_entry_below_another_packages_symlink(tmp_path: Path) -> None:
    a = _unpacked(tmp_path, "linker", [directory("./usr/"), symlink("./usr/share", "/etc")])
    # a tarball may omit the parent directory; the symlink still redirects the entry
    b = _unpacked(tmp_path, "writer", [directory("./usr/"), Member("./usr/share/passwd")])
    with pytest.raises(BuildError, match=r"/usr/share/passwd \(writer\): /usr/share is a "
                                         r"symlink of linker"):
        merge([a, b])
