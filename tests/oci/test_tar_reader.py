"""oci/tar_reader.py: the same members as tarfile and GNU tar over archives they write, read
through any chunking of the stream; and a one-line refusal of every malformed header."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zerocve.oci.tar_reader import MAX_HEADER, TarFormatError, TarReader

FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT, "ustar": tarfile.USTAR_FORMAT}


def chunked(data: bytes, size: int) -> Callable[[int], bytes]:
    """``read(n)`` over ``data`` that never gives more than ``size`` bytes at once, as a
    decompressor may."""
    stream = io.BytesIO(data)
    return lambda n: stream.read(min(n, size))


def walk(read: Callable[[int], bytes]) -> list[tuple[object, ...]]:
    reader = TarReader(read)
    return [(m.name, m.type, m.mode, m.uid, m.gid, m.mtime, m.linkname,
             reader.read_data() if m.isreg() else None) for m in reader]


def tarfile_walk(data: bytes) -> list[tuple[object, ...]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        return [(m.name, m.type, m.mode, m.uid, m.gid, int(m.mtime), m.linkname,
                 tar.extractfile(m).read() if m.isreg() else None)  # type: ignore[union-attr]
                for m in tar]


_names = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                        blacklist_characters="/\0"), min_size=1, max_size=40),
                  min_size=1, max_size=6).map("/".join)
_member = st.tuples(
    _names,
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE]),
    st.binary(max_size=3000),
    st.integers(0, 2**21 - 1),  # uid: past octal's 7 digits, GNU writes base-256
    st.integers(0, 2**33),  # mtime
)


def _archive(members: list[tuple[str, bytes, bytes, int, int]], form: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=form) as tar:
        for name, kind, data, uid, mtime in members:
            info = tarfile.TarInfo(name)
            info.type, info.uid, info.mtime, info.mode = kind, uid, mtime, 0o640
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.linkname = name[::-1] if kind != tarfile.DIRTYPE else ""
                tar.addfile(info)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_member, min_size=1, max_size=12), st.sampled_from(["gnu", "pax"]),
       st.sampled_from([1, 7, 512, 1000, 1 << 20]))
def test_same_members_as_tarfile(members: list[tuple[str, bytes, bytes, int, int]], form: str,
                                 chunk: int) -> None:
    data = _archive(members, FORMATS[form])
    assert walk(chunked(data, chunk)) == tarfile_walk(data)


def test_ustar_prefix_and_old_style_directory() -> None:
    long_dir = "d" * 120
    data = _archive([(f"{long_dir}/file", tarfile.REGTYPE, b"x", 0, 0)], tarfile.USTAR_FORMAT)
    assert walk(chunked(data, 100)) == tarfile_walk(data)
    assert walk(chunked(data, 100))[0][0] == f"{long_dir}/file"


def _gnu_tar(tmp_path: Path, form: str) -> bytes:
    root = tmp_path / form
    deep = root / ("long" * 30) / ("é" * 60)
    deep.mkdir(parents=True)
    (deep / "file").write_bytes(b"content" * 1000)
    (deep / "link").symlink_to("x" * 150)
    (root / "hard").hardlink_to(deep / "file")
    return subprocess.run(["tar", f"--format={form}", "--sort=name", "-C", str(root), "-cf",
                           "-", "."], check=True, capture_output=True).stdout


@pytest.mark.parametrize("form", ["gnu", "posix", "oldgnu"])
def test_gnu_tar_archives(tmp_path: Path, form: str) -> None:
    data = _gnu_tar(tmp_path, form)
    listed = subprocess.run(["tar", "-tf", "-"], input=data, check=True,
                            capture_output=True).stdout.decode().splitlines()
    members = walk(chunked(data, 4096))
    assert [m[0] for m in members] == [name.rstrip("/") for name in listed]
    assert members == tarfile_walk(data)


def _header(name: str, kind: bytes, size: int = 0, magic: bytes = b"ustar  \0") -> bytearray:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    block[257:265] = magic
    return block


def _sealed(block: bytearray) -> bytes:
    """``block`` with its checksum computed again."""
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def test_a_gnu_header_has_no_prefix_as_gnu_tar_and_dpkg_read_it() -> None:
    """Bytes 345-500 of a GNU header are times, not a name prefix (tarfile says otherwise)."""
    block = _header("file", tarfile.REGTYPE, 3)
    block[345:357] = b"14000000000\0"  # an access time, as GNU tar --incremental writes
    data = _sealed(block) + b"abc".ljust(512, b"\0") + bytes(1024)
    listed = subprocess.run(["tar", "-tf", "-"], input=data, check=True,
                            capture_output=True).stdout.decode().split()
    assert listed == ["file"]
    assert [m[0] for m in walk(chunked(data, 512))] == listed


def test_header_only_types_carry_no_data() -> None:
    """A directory or link whose size field is not zero is followed by the next header, as
    tarfile, Go's archive/tar and GNU tar read it: no member hides in its 'data'."""
    hidden = _archive([("hidden", tarfile.REGTYPE, b"secret", 0, 0)], tarfile.GNU_FORMAT)
    data = (_sealed(_header("dir", tarfile.DIRTYPE, len(hidden) - 1024))
            + _archive([("after", tarfile.REGTYPE, b"x", 0, 0)], tarfile.GNU_FORMAT))
    names = [m[0] for m in walk(chunked(data, 512))]
    assert names == ["dir", "after"] == [m[0] for m in tarfile_walk(data)]


def _refusal(data: bytes) -> str:
    with pytest.raises(TarFormatError) as caught:
        walk(chunked(data, 4096))
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_bad_checksum_is_refused_anywhere() -> None:
    """tarfile ends the walk silently at a bad header after the first: here it is an error."""
    good = _archive([("a", tarfile.REGTYPE, b"1", 0, 0), ("b", tarfile.REGTYPE, b"2", 0, 0)],
                    tarfile.GNU_FORMAT)
    damaged = bytearray(good)
    damaged[1024] ^= 1  # the second header's name
    assert [m[0] for m in tarfile_walk(bytes(damaged))] == ["a"]
    assert "checksum" in _refusal(bytes(damaged))
    assert "checksum" in _refusal(b"PK\x03\x04" + bytes(2044))


@pytest.mark.parametrize("cut", [0, 100, 512 + 10, 1024 + 300])
def test_truncated_archive_is_refused(cut: int) -> None:
    data = _archive([("a", tarfile.REGTYPE, bytes(600), 0, 0), ("b", tarfile.REGTYPE, b"", 0, 0)],
                    tarfile.GNU_FORMAT)[:cut]
    message = _refusal(data)
    assert ("empty archive" if cut == 0 else "the archive ends inside") in message


def test_oversized_extension_is_refused_before_it_is_read() -> None:
    header = _sealed(_header("././@LongLink", tarfile.GNUTYPE_LONGNAME, 1 << 30))
    asked: list[int] = []
    stream = io.BytesIO(header + bytes(MAX_HEADER))

    def read(n: int) -> bytes:
        asked.append(n)
        return stream.read(min(n, 1024))

    assert f"more than {MAX_HEADER}" in _refusal_of(read)
    assert sum(asked) < 1 << 20


def _refusal_of(read: Callable[[int], bytes]) -> str:
    with pytest.raises(TarFormatError) as caught:
        walk(read)
    return str(caught.value)


def test_negative_size_and_bad_numbers_are_refused() -> None:
    block = _header("neg", tarfile.REGTYPE)
    block[124:136] = b"\xff" * 12  # base-256 -1
    assert "negative size" in _refusal(_sealed(block) + bytes(1024))
    block = _header("junk", tarfile.REGTYPE)
    block[124:136] = b"12x45678901\0"
    assert "not an octal number" in _refusal(_sealed(block) + bytes(1024))


@pytest.mark.parametrize("record", [b"zz path=x\n", b"99 path=x\n", b"8 path=x\n",
                                    b"11 pathxyz\n", b"11 size=-1\n"])
def test_malformed_pax_records_are_refused(record: bytes) -> None:
    pax = _header("././@PaxHeader", tarfile.XHDTYPE, len(record))
    data = (_sealed(pax) + record.ljust(512, b"\0")
            + _archive([("a", tarfile.REGTYPE, b"1", 0, 0)], tarfile.GNU_FORMAT))
    assert "PAX" in _refusal(data)


def test_data_nobody_reads_is_stepped_over() -> None:
    members = [(f"f{i}", tarfile.REGTYPE, bytes([i]) * (i * 700), 0, 0) for i in range(20)]
    data = _archive(members, tarfile.PAX_FORMAT)
    reader = TarReader(chunked(data, 333))
    seen: Iterator[object] = (reader.read_data(5) if m.name.endswith("7") else m.name
                              for m in reader)
    assert list(seen)[7] == bytes([7]) * 5
