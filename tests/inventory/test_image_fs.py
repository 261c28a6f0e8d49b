"""Reading an image's dpkg database through its layers: order, whiteouts, links, digests."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest
from imagekit import BOOKWORM_OS_RELEASE, Dir, Entry, LayoutWriter, Link, status

from zerocve.cache_seal import CacheSeal
from zerocve.errors import ImageError, InventoryError
from zerocve.inventory import open_inventory

DEP5_MIT = (
    b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
    b"Files: *\nCopyright: 2020 Someone\nLicense: Expat\n"
)
DEP5_GPL = DEP5_MIT.replace(b"Expat", b"GPL-2+")

SEAL = CacheSeal(b"this machine's seal key, 32 byte")
OTHER_SEAL = CacheSeal(b"another machine's key, 32 bytes!")


def layout(tmp_path: Path, layers: list[list[Entry]], compression: str | None = "gzip") -> Path:
    writer = LayoutWriter(tmp_path / "layout")
    writer.top([writer.image(layers, compression=compression)])
    return writer.root


def names(inventory) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{p.name}={p.version}" for p in inventory.packages]


@pytest.mark.parametrize("compression", ["gzip", "zstd", None])
def test_later_layers_win_and_whiteouts_delete(tmp_path: Path, compression: str | None) -> None:
    base = [
        Dir("etc"),
        Link("etc/os-release", "../usr/lib/os-release"),
        ("usr/lib/os-release", BOOKWORM_OS_RELEASE),
        ("etc/debian_version", b"12.8\n"),
        (
            "var/lib/dpkg/status",
            status(("libfoo1", "1.0-1", "amd64", "foo"), ("bar", "2.0-1", "all", "")),
        ),
        ("usr/share/doc/libfoo1/copyright", DEP5_MIT),
        ("usr/share/doc/bar/copyright", DEP5_GPL),
    ]
    update = [
        (
            "var/lib/dpkg/status",
            status(
                ("libfoo1", "1.0-2", "amd64", "foo"),
                ("bar", "2.0-1", "all", ""),
                ("baz", "3", "amd64", "bazsrc (2)"),
            ),
        ),
        ("usr/share/doc/.wh.bar", b""),
    ]
    inv = open_inventory(str(layout(tmp_path, [base, update], compression)))
    assert names(inv) == ["bar=2.0-1", "baz=3", "libfoo1=1.0-2"]
    by_name = {p.name: p for p in inv.packages}
    assert by_name["libfoo1"].licenses == ("MIT",)
    assert by_name["bar"].licenses == ()  # its doc directory was whited out
    assert (by_name["baz"].source, by_name["baz"].source_version) == ("bazsrc", "2")
    assert inv.distro is not None and inv.distro.purl_qualifier == "debian-12"
    assert inv.image_digest is not None and inv.image_digest.startswith("sha256:")


def test_opaque_directory_hides_lower_status_d(tmp_path: Path) -> None:
    lower = [
        ("var/lib/dpkg/status.d/old", b"Package: old\nVersion: 1\nArchitecture: all\n"),
        ("var/lib/dpkg/status.d/kept", b"Package: kept\nVersion: 1\nArchitecture: all\n"),
    ]
    upper = [
        ("var/lib/dpkg/status.d/new", b"Package: new\nVersion: 2\nArchitecture: all\n"),
        ("var/lib/dpkg/status.d/new.md5sums", b"0123 usr/bin/new\n"),
        ("var/lib/dpkg/status.d/.wh..wh..opq", b""),
    ]
    inv = open_inventory(str(layout(tmp_path, [lower, upper])))
    assert names(inv) == ["new=2"]  # the opaque marker applies whatever its place in the tar


def test_absolute_symlinks_resolve_inside_the_image(tmp_path: Path) -> None:
    fake_release = b"ID=debian\nVERSION_ID=11\nVERSION_CODENAME=bullseye\n"
    layers = [
        [
            Link("etc/os-release", "/usr/lib/os-release"),
            ("usr/lib/os-release", fake_release),
            # An escape attempt stays in the image root: ../../.. stops at "/".
            Link("var/lib/dpkg", "../../../../../../srv/dpkg"),
            ("srv/dpkg/status", status(("a1", "1", "all", ""))),
            # Copyright reached through a symlinked doc directory, as -dev packages do.
            Link("usr/share/doc/a1", "a1-common"),
            ("usr/share/doc/a1-common/copyright", DEP5_GPL),
        ]
    ]
    inv = open_inventory(str(layout(tmp_path, layers)))
    assert inv.distro is not None and inv.distro.codename == "bullseye"
    assert names(inv) == ["a1=1"]
    assert inv.packages[0].licenses == ("GPL-2.0-or-later",)


def test_hard_links_are_followed_even_to_unwanted_paths(tmp_path: Path) -> None:
    layers = [
        [
            ("usr/share/common-licenses/x", DEP5_MIT),  # not kept on the first pass
            Link("usr/share/doc/zz/copyright", "usr/share/common-licenses/x", hard=True),
            ("var/lib/dpkg/status", status(("zz", "1", "all", ""))),
            Link("var/lib/dpkg/status.d/zz", "var/lib/dpkg/status", hard=True),
        ]
    ]
    inv = open_inventory(str(layout(tmp_path, layers)))
    assert names(inv) == ["zz=1"]
    assert inv.packages[0].licenses == ("MIT",)


def test_symlink_loop_is_an_error(tmp_path: Path) -> None:
    layers = [[Link("var/lib/dpkg", "loop"), Link("var/lib/loop", "dpkg")]]
    with pytest.raises(InventoryError, match="too many symlinks"):
        open_inventory(str(layout(tmp_path, layers)))


def test_no_dpkg_database(tmp_path: Path) -> None:
    target = str(layout(tmp_path, [[("etc/os-release", BOOKWORM_OS_RELEASE)]]))
    with pytest.raises(InventoryError) as caught:
        open_inventory(target)
    assert str(caught.value) == (
        f"{target}: no dpkg database (var/lib/dpkg/status or var/lib/dpkg/status.d) found"
    )


def test_junk_stanza_refuses_the_image(tmp_path: Path) -> None:
    # Skipping it would hide a package from the scan (tests/hostile/test_status_file.py).
    text = status(("good", "1", "all", "")) + b"\nthis line is junk\n\nPackage: x\n"
    with pytest.raises(InventoryError, match="/var/lib/dpkg/status: line 8: field name"):
        open_inventory(str(layout(tmp_path, [[("var/lib/dpkg/status", text)]])))


def test_dotdot_members_are_ignored(tmp_path: Path) -> None:
    layers = [
        [
            ("var/lib/dpkg/status", status(("safe", "1", "all", ""))),
            ("var/lib/dpkg/status.d/../../../../../etc/evil", b"Package: evil\n"),
        ]
    ]
    assert names(open_inventory(str(layout(tmp_path, layers)))) == ["safe=1"]


def _gnu_member(name: str, data: bytes, times: bytes = b"") -> bytes:
    """A GNU-format member; ``times`` fills the header's access and change times (bytes
    345-369), where a POSIX header has its name prefix."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[345 : 345 + len(times)] = times
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + data + bytes(-len(data) % 512)


def _raw_layout(tmp_path: Path, tar: bytes) -> str:
    writer = LayoutWriter(tmp_path / "raw")
    writer.top([writer.image([], tars=[tar])])
    return str(writer.root)


def test_a_gnu_header_names_its_file_as_the_runtime_unpacks_it(tmp_path: Path) -> None:
    """GNU tar, dpkg and Go's archive/tar (containerd) read no name prefix from a GNU header:
    those bytes are times. tarfile read them as a prefix, so such a layer put its dpkg
    database at /14000000000/var/lib/dpkg/status for the scan and at the right place for the
    container."""
    tar = _gnu_member("var/lib/dpkg/status", status(("hidden", "1", "all", "")),
                      times=b"14000000000\0") + bytes(1024)
    listed = subprocess.run(["tar", "-tf", "-"], input=tar, check=True,
                            capture_output=True).stdout.decode().split()
    assert listed == ["var/lib/dpkg/status"]
    assert names(open_inventory(_raw_layout(tmp_path, tar))) == ["hidden=1"]


def test_a_damaged_header_after_the_first_is_an_error(tmp_path: Path) -> None:
    """tarfile ended the walk there without a word, so every later member (a whiteout, a
    second status) went unseen; a runtime refuses such a layer, and so does the scan."""
    later = bytearray(_gnu_member("var/lib/dpkg/status", status(("later", "1", "all", ""))))
    later[0] ^= 1
    tar = _gnu_member("etc/hostname", b"x\n") + bytes(later) + bytes(1024)
    with pytest.raises(InventoryError, match=r"layer sha256:[0-9a-f]{64}: unreadable tar: "
                                             r"header checksum does not match"):
        open_inventory(_raw_layout(tmp_path, tar))


def _only_layer(root: Path) -> Path:
    blobs = sorted((root / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    return next(p for p in reversed(blobs) if p.read_bytes()[:2] == b"\x1f\x8b")


def test_truncated_layer_is_detected(tmp_path: Path) -> None:
    root = layout(tmp_path, [[("var/lib/dpkg/status", status(("a1", "1", "all", "")) * 50)]])
    blob = _only_layer(root)
    blob.write_bytes(blob.read_bytes()[:-30])
    with pytest.raises(InventoryError, match=r"layer sha256:[0-9a-f]{64}: "):
        open_inventory(str(root))


def test_garbage_layer(tmp_path: Path) -> None:
    root = layout(tmp_path, [[("var/lib/dpkg/status", b"x")]])
    blob = _only_layer(root)
    blob.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    with pytest.raises(InventoryError, match="unreadable tar"):
        open_inventory(str(root))


def test_oci_archive(tmp_path: Path) -> None:
    root = layout(tmp_path, [[("var/lib/dpkg/status", status(("a1", "1", "all", "")))]])
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    inv = open_inventory(str(archive))
    assert names(inv) == ["a1=1"]
    assert inv.image_digest == open_inventory(str(root)).image_digest
    assert names(open_inventory(f"oci-archive:{archive}")) == ["a1=1"]


def test_layer_index_cache(tmp_path: Path) -> None:
    """A second scan of the same image reads the cached layer indexes, not the layers; a
    damaged cache entry is read again from the layer; an unwritable cache only costs time."""
    cache = tmp_path / "cache"
    root = layout(
        tmp_path,
        [
            [
                Link("etc/os-release", "../usr/lib/os-release"),
                ("usr/lib/os-release", BOOKWORM_OS_RELEASE),
                ("var/lib/dpkg/status", status(("cached", "1", "all", ""))),
                ("usr/share/doc/cached/copyright", DEP5_MIT),
            ],
            [("usr/share/doc/.wh.cached", b"")],
        ],
    )
    first = open_inventory(str(root), cache_dir=cache, seal=SEAL)
    entries = sorted((cache / "layer-index").rglob("*.json"))
    assert len(entries) == 2
    layer = _only_layer(root)
    saved = layer.read_bytes()
    layer.unlink()  # gone: only the cache can answer now
    shutil.rmtree(cache / "inventories")  # the layer indexes, not the whole inventory kept
    second = open_inventory(str(root), cache_dir=cache, seal=SEAL)
    assert second == first and second.packages[0].licenses == ()
    assert second.distro == first.distro
    with pytest.raises(ImageError, match="is missing"):  # another machine's entries: not used
        open_inventory(str(root), cache_dir=cache, seal=OTHER_SEAL)
    with pytest.raises(ImageError, match="is missing"):  # no seal: nothing read or kept
        open_inventory(str(root), cache_dir=cache)

    genuine = [e.read_bytes() for e in entries]
    # Damaged, or torn by a crash (entries are not fsynced): not trusted, read again.
    for damage in ([b"{damaged"] * len(entries), [g[: len(g) // 2] for g in genuine]):
        layer.unlink(missing_ok=True)
        shutil.rmtree(cache / "inventories")
        for entry, damaged in zip(entries, damage, strict=True):
            entry.write_bytes(damaged)
        with pytest.raises(ImageError, match="is missing"):
            open_inventory(str(root), cache_dir=cache, seal=SEAL)
        layer.write_bytes(saved)
        assert open_inventory(str(root), cache_dir=cache, seal=SEAL) == first
        assert [e.read_bytes() for e in entries] == genuine  # rewritten

    unwritable = Path("/proc/zerocve-cannot-write-here")
    assert open_inventory(str(root), cache_dir=unwritable, seal=SEAL) == first


def test_a_layer_index_planted_in_the_cache_is_not_trusted(tmp_path: Path) -> None:
    """Whoever writes the cache directory could give the layer holding the dpkg database the
    index of a layer without it, and hide every package from the gate: the seal binds each
    index to its layer's digest, so the swap is a miss and the layer is read again."""
    cache = tmp_path / "cache"
    root = layout(tmp_path, [
        [("usr/lib/os-release", BOOKWORM_OS_RELEASE),
         ("var/lib/dpkg/status", status(("hidden", "1", "all", "")))],
        [("etc/motd", b"hello")],
    ])
    first = open_inventory(str(root), cache_dir=cache, seal=SEAL)
    assert names(first) == ["hidden=1"]
    entries = sorted((cache / "layer-index").rglob("*.json"))
    (with_status,) = [e for e in entries if b"dpkg/status" in e.read_bytes()]
    (other,) = set(entries) - {with_status}
    with_status.write_bytes(other.read_bytes())
    shutil.rmtree(cache / "inventories")
    assert names(open_inventory(str(root), cache_dir=cache, seal=SEAL)) == ["hidden=1"]


def test_many_whiteouts(tmp_path: Path) -> None:
    """A layer that deletes thousands of files one by one (an apt-get purge in a Dockerfile)
    is applied per subtree, not by scanning every path for every whiteout."""
    files: list[Entry] = [(f"usr/lib/x/{i:05}.so", b"") for i in range(6000)]
    both = status(("kept", "1", "all", ""), ("gone", "1", "all", ""))
    files.append(("var/lib/dpkg/status", both))
    purge: list[Entry] = [(f"usr/lib/x/.wh.{i:05}.so", b"") for i in range(0, 6000, 2)]
    purge.append(("var/lib/dpkg/status", status(("kept", "1", "all", ""))))
    writer = LayoutWriter(tmp_path / "purge")
    writer.top([writer.image([files, purge])])
    from zerocve.inventory.detect import wanted
    from zerocve.inventory.image_fs import LayeredTree
    from zerocve.inventory.images import select_image
    from zerocve.oci.reader import LayoutReader

    image = select_image(LayoutReader(writer.root))
    tree = LayeredTree(image.layers, wanted, "purge")
    assert tree.listdir("usr/lib/x") == [f"{i:05}.so" for i in range(1, 6000, 2)]
    assert names(open_inventory(str(writer.root))) == ["kept=1"]


def test_progress_per_layer(tmp_path: Path) -> None:
    from collections.abc import Iterator
    from contextlib import contextmanager

    from zerocve.progress import Reporter, Task

    seen: list[tuple[str, float | None, int]] = []

    class Counting(Task):
        def __init__(self) -> None:
            self.count = 0

        def advance(self, amount: float = 1) -> None:
            self.count += int(amount)

    class Recording(Reporter):
        @contextmanager
        def task(self, description: str, total: float | None = None) -> Iterator[Task]:
            task = Counting()
            yield task
            seen.append((description, total, task.count))

    root = layout(
        tmp_path,
        [
            [("var/lib/dpkg/status", status(("a1", "1", "all", "")))],
            [("etc/debian_version", b"12.8\n")],
        ],
    )
    open_inventory(str(root), reporter=Recording())
    assert seen == [("reading 2 layers", 2, 2)]


def test_layers_read_on_several_threads_give_the_same_tree_and_the_lowest_error(
    tmp_path: Path,
) -> None:
    """Layers are read on every core and applied in order: the same tree as one at a time,
    and of two damaged layers the lower one is named, whichever thread finished first."""
    from zerocve.inventory.detect import wanted
    from zerocve.inventory.image_fs import LayeredTree
    from zerocve.inventory.images import select_image
    from zerocve.oci.reader import LayoutReader

    layers: list[list[Entry]] = [
        [(f"layer{i}/file{j}", bytes([i]) * j) for j in range(50)]
        + [(f"layer{i - 1}/.wh.file{i}", b"")] * (i > 0)
        + [("var/lib/dpkg/status", status((f"p{i}", "1", "all", "")))]
        for i in range(8)
    ]
    writer = LayoutWriter(tmp_path / "many")
    writer.top([writer.image(layers)])
    image = select_image(LayoutReader(writer.root))

    def tree(workers: int) -> dict[str, object]:
        built = LayeredTree(image.layers, wanted, "many", workers=workers)
        return {path: (entry.node, entry.data, position)
                for path, (entry, position) in built._entries.items()}

    assert tree(4) == tree(1)
    assert "layer0/file1" not in tree(4) and "layer0/file2" in tree(4)
    blobs = {p.name: p for p in (writer.root / "blobs" / "sha256").iterdir()}
    for layer in (image.layers[2], image.layers[6]):
        blob = blobs[layer.digest.removeprefix("sha256:")]
        blob.write_bytes(blob.read_bytes()[:-40])
    with pytest.raises(InventoryError, match=image.layers[2].digest):
        tree(4)


def _inflate_all(data: bytes, chunk: int) -> bytes:
    from zerocve.inventory.image_fs import gunzip

    stream = io.BytesIO(data)
    read = gunzip(lambda n: stream.read(min(n, chunk)))
    pieces = []
    while piece := read(1000):
        assert len(piece) <= 1000
        pieces.append(piece)
    return b"".join(pieces)


@pytest.mark.parametrize("chunk", [1, 100, 1 << 16])
def test_gzip_members_are_inflated_one_after_another_and_checked(chunk: int) -> None:
    """A layer may be several gzip members end to end (pigz, concatenation): every one is
    read, and a member whose CRC or length does not match, or that is cut, is an error."""
    one, two = bytes(range(256)) * 40, b"second member" * 500
    joined = gzip.compress(one, mtime=0) + gzip.compress(two, mtime=0)
    assert _inflate_all(joined, chunk) == one + two
    damaged = bytearray(joined)
    damaged[len(gzip.compress(one, mtime=0)) - 8] ^= 1  # the first member's CRC
    with pytest.raises(zlib.error, match="incorrect data check"):
        _inflate_all(bytes(damaged), chunk)
    with pytest.raises(EOFError):
        _inflate_all(joined[:-5], chunk)
