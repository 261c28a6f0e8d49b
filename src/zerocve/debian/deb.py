"""Read a ``.deb`` as a stream: its control stanza, md5sums, conffiles and data members.

A ``.deb`` is an ``ar`` archive holding ``debian-binary`` ("2.0\\n"), ``control.tar.*`` and
``data.tar.*`` in that order; the tarballs may be compressed with xz, zstd or gzip (or, for
data, not at all). The ar framing is parsed here by hand so that nothing is extracted to disk.
Data members come out as ``oci.layer.Entry`` records, the unit layers are made of.

Safety rules: every data member is checked before it is yielded, and anything unsafe raises a
``PackageError`` naming the package and the member (the name and link rules are
``oci.layer.normalise_name`` and ``check_entry``, which every layer zerocve writes obeys too):

* a name that is absolute or has a ``..`` component (it would escape the root);
* a name starting with ``.wh.`` (an OCI whiteout: in a layer it would delete files of the
  layers below);
* a hard link whose target is absolute, has ``..``, or is not a regular file earlier in the
  same archive (tar semantics: the target must already be there);
* a member below a symlink (or file) the same archive created earlier (``lib -> /etc`` followed by
  ``lib/passwd`` writes outside the directory the member names);
* device nodes and FIFOs (an image needs none; the runtime provides ``/dev``), and any other
  tar member type (sockets, sparse files, GNU volume headers...);
* two members with the same name, and unknown compressions.

Bounds, so that a small ``.deb`` cannot cost gigabytes: the data archive may not expand past
what the package's signed control data declares (``Installed-Size``, itself capped at
``MAX_INSTALLED_SIZE``; each member is charged as ``dpkg-gencontrol`` counts it, at least
1 KiB), with ``EXPANSION_SLACK``; a member's size is checked against that budget from its
header, before any of it is read. Files over ``SPILL_SIZE`` are copied to an unlinked
temporary file (``oci.layer.Spilled``) instead of memory; the control files and tar name
headers are capped too. The tarballs are walked by ``oci.tar_reader`` (which refuses a
malformed header or an oversized long-name or PAX header); the rules above are applied here
to each member it yields.

Symlink *targets* may be absolute or climb with ``..``: they resolve inside the image root at
run time, as on any Debian system.
"""

from __future__ import annotations

import gzip
import io
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Final

import zstandard

from zerocve.debian.control import parse_control
from zerocve.errors import PackageError
from zerocve.oci.layer import (
    Content,
    Entry,
    EntryKind,
    Spilled,
    UnsafeEntry,
    check_entry,
    normalise_name,
    spill_file,
)
from zerocve.oci.tar_reader import BLOCKDEV, CHAR, FIFO, TarFormatError, TarMember, TarReader

_AR_MAGIC: Final = b"!<arch>\n"
_AR_HEADER_SIZE: Final = 60
_CHUNK: Final = 1 << 16
MAX_INSTALLED_SIZE: Final = 16 << 20  # KiB (16 GiB): more than any Debian package installs
# Installed-Size is an estimate (dpkg rounds each file up to 1 KiB): allow twice it, plus 1 MiB.
EXPANSION_SLACK: Final = (2, 1 << 20)
SPILL_SIZE: Final = 1 << 20  # larger files go to a temporary file, not memory
MAX_CONTROL_FILE: Final = 64 << 20  # control, md5sums, conffiles (md5sums of huge packages)


@dataclass(frozen=True)
class DebControl:
    """What the control tarball says about a package."""

    package: str
    stanza: str  # the control file as shipped (one deb822 stanza, newline-terminated)
    fields: dict[str, str] = field(hash=False)
    md5sums: dict[str, str] = field(hash=False)  # "usr/bin/x" -> hex md5
    conffiles: tuple[str, ...] = ()  # absolute paths, as in the conffiles file

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


class _Bounded(io.RawIOBase):
    """A read-only window of ``size`` bytes over a sequential stream."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        want = min(len(buffer), self._left)
        chunk = self._stream.read(want)
        buffer[: len(chunk)] = chunk
        self._left -= len(chunk)
        return len(chunk)


def _decompressor(raw: BinaryIO, member: str, where: str) -> BinaryIO:
    """Wrap ``raw`` in a streaming decompressor chosen by the member's suffix."""
    suffix = member.rsplit(".", 1)[-1] if member.count(".") >= 2 else ""
    if suffix == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if suffix == "zst":
        return zstandard.ZstdDecompressor().stream_reader(raw)  # type: ignore[return-value]
    if suffix == "gz":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if suffix == "":
        return raw
    raise PackageError(f"{where}: {member}: unsupported compression {suffix!r}")


def _refused(package: str, name: str, problem: UnsafeEntry) -> PackageError:
    """The one-line error for a member ``oci.layer`` refuses; a name that is not printable
    (a newline, bytes that are not UTF-8) is shown as the bytes it is."""
    shown = name if name.isprintable() else repr(name.encode("utf-8", "surrogateescape"))
    return PackageError(f"{package}: {shown}: {problem}")


def _kind(info: TarMember) -> EntryKind | None:
    """What the member becomes in a layer; None for types ``_payload`` refuses."""
    if info.isreg():
        return EntryKind.FILE
    if info.isdir():
        return EntryKind.DIR
    if info.issym():
        return EntryKind.SYMLINK
    return EntryKind.HARDLINK if info.islnk() else None


class DebReader:
    """Sequential reader over one ``.deb``: ``control`` first, then ``members()`` once.

    Use as a context manager::

        with DebReader(path) as deb:
            control = deb.control
            for member in deb.members():
                ...
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._name = self.path.name
        self._stream: BinaryIO | None = None
        self._control: DebControl | None = None
        self._data_member: tuple[str, int] | None = None
        self._consumed = False
        self._spill: IO[bytes] | None = None

    def __enter__(self) -> DebReader:
        try:
            self._stream = open(self.path, "rb")  # noqa: SIM115 - closed in __exit__
        except OSError as e:
            raise PackageError(f"{self.path}: cannot open: {e.strerror}") from e
        self._read_head()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    # -- ar framing ------------------------------------------------------------------

    def _next_ar_member(self) -> tuple[str, int] | None:
        assert self._stream is not None
        header = self._stream.read(_AR_HEADER_SIZE)
        if not header:
            return None
        if len(header) < _AR_HEADER_SIZE or header[58:60] != b"`\n":
            raise PackageError(f"{self._name}: truncated or malformed ar header")
        name = header[0:16].decode("ascii", "replace").rstrip()
        name = name.removesuffix("/")  # GNU ar terminates names with '/'
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as e:
            raise PackageError(f"{self._name}: {name}: bad ar member size") from e
        return name, size

    def _skip_padding(self, size: int) -> None:
        assert self._stream is not None
        if size % 2:
            self._stream.read(1)

    def _read_exact(self, size: int, member: str) -> bytes:
        assert self._stream is not None
        data = self._stream.read(size)
        if len(data) != size:
            raise PackageError(f"{self._name}: {member}: truncated")
        self._skip_padding(size)
        return data

    def _skip(self, size: int, member: str) -> None:
        assert self._stream is not None
        left = size
        while left:
            piece = self._stream.read(min(_CHUNK, left))
            if not piece:
                raise PackageError(f"{self._name}: {member}: truncated")
            left -= len(piece)
        self._skip_padding(size)

    def _read_head(self) -> None:
        assert self._stream is not None
        if self._stream.read(len(_AR_MAGIC)) != _AR_MAGIC:
            raise PackageError(f"{self._name}: not a Debian package (no ar magic)")
        first = self._next_ar_member()
        if first is None or first[0] != "debian-binary":
            raise PackageError(f"{self._name}: first member is not debian-binary")
        version = self._read_exact(first[1], "debian-binary")
        if not version.startswith(b"2."):
            raise PackageError(f"{self._name}: unsupported format {version.strip()!r}")
        control_blob: bytes | None = None
        control_name = ""
        while True:
            member = self._next_ar_member()
            if member is None:
                raise PackageError(f"{self._name}: no data.tar member")
            name, size = member
            if name.startswith("control.tar"):
                control_name = name
                control_blob = self._read_exact(size, name)
            elif name.startswith("data.tar"):
                if control_blob is None:
                    raise PackageError(f"{self._name}: data.tar comes before control.tar")
                self._data_member = (name, size)
                break
            elif name.startswith("_"):
                self._skip(size, name)  # dpkg ignores members starting with '_'
            else:
                raise PackageError(f"{self._name}: unexpected member {name!r}")
        self._control = self._parse_control(control_name, control_blob)

    # -- control ---------------------------------------------------------------------

    def _parse_control(self, member: str, blob: bytes) -> DebControl:
        files: dict[str, bytes] = {}
        raw = io.BytesIO(blob)
        try:
            stream = _decompressor(raw, member, self._name)
            tar = TarReader(stream.read)
            for info in tar:
                name = info.name.removeprefix("./")
                if info.isreg() and name in ("control", "md5sums", "conffiles"):
                    if info.size > MAX_CONTROL_FILE:
                        raise PackageError(
                            f"{self._name}: {member}: {name} is {info.size} bytes "
                            f"(more than {MAX_CONTROL_FILE}), refused"
                        )
                    files[name] = tar.read_data()
        except (TarFormatError, lzma.LZMAError, zstandard.ZstdError, OSError, EOFError) as e:
            raise PackageError(f"{self._name}: {member}: corrupt: {e}") from e
        if "control" not in files:
            raise PackageError(f"{self._name}: {member}: no control file")
        stanza = files["control"].decode("utf-8", "replace")
        try:
            fields = parse_control(stanza)
        except ValueError as e:
            raise PackageError(f"{self._name}: {member}: control: {e}") from None
        package = fields.get("Package", "")
        if not package:
            raise PackageError(f"{self._name}: control file has no Package field")
        md5sums: dict[str, str] = {}
        for line in files.get("md5sums", b"").decode("utf-8", "replace").splitlines():
            digest, _, path = line.partition(" ")
            if digest and path:
                md5sums[path.lstrip(" *").removeprefix("./")] = digest
        conffiles = tuple(
            line.strip()
            for line in files.get("conffiles", b"").decode("utf-8", "replace").splitlines()
            if line.strip()
        )
        if not stanza.endswith("\n"):
            stanza += "\n"
        return DebControl(package, stanza, fields, md5sums, conffiles)

    def _budget(self) -> tuple[int, int]:
        """(declared Installed-Size in KiB, bytes the data archive may expand to)."""
        declared = self.control.get("Installed-Size", "").strip()
        where = f"{self.control.package} {self.control.get('Version')}"
        if not declared:
            kib = MAX_INSTALLED_SIZE
        elif not declared.isdigit():
            raise PackageError(f"{where}: Installed-Size {declared!r} is not a number")
        else:
            kib = int(declared)
        if kib > MAX_INSTALLED_SIZE:
            raise PackageError(
                f"{where}: Installed-Size {kib} KiB is over the {MAX_INSTALLED_SIZE} KiB "
                "zerocve accepts, refused"
            )
        factor, extra = EXPANSION_SLACK
        return kib, kib * 1024 * factor + extra

    @property
    def control(self) -> DebControl:
        if self._control is None:
            raise RuntimeError("DebReader used outside its context manager")
        return self._control

    # -- data ------------------------------------------------------------------------

    def members(self) -> Iterator[Entry]:
        """Yield the data archive's members in archive order (the root itself skipped); a
        hard link's ``data`` repeats its target's content."""
        if self._stream is None or self._data_member is None:
            raise RuntimeError("DebReader used outside its context manager")
        if self._consumed:
            raise RuntimeError("members() can be iterated only once")
        self._consumed = True
        member, size = self._data_member
        package = f"{self.control.package} {self.control.get('Version')}"
        window = _Bounded(self._stream, size)
        stream = _decompressor(io.BufferedReader(window, _CHUNK), member, package)
        seen: dict[str, EntryKind] = {}
        contents: dict[str, Content] = {}  # regular files so far, for hard links' data
        declared, budget = self._budget()
        used = 0
        try:
            tar = TarReader(stream.read)
            for info in tar:
                # Charged as dpkg counts Installed-Size: whole KiB, at least one.
                used += max(1, -(-info.size // 1024)) * 1024 if info.isreg() else 1024
                if used > budget:
                    raise PackageError(
                        f"{package}: {info.name}: the data archive expands past the "
                        f"package's Installed-Size ({declared} KiB), refused"
                    )
                converted = self._convert(tar, info, package, seen, contents)
                if converted is not None:
                    yield converted
        except (TarFormatError, lzma.LZMAError, zstandard.ZstdError, OSError, EOFError) as e:
            raise PackageError(f"{package}: {member}: corrupt: {e}") from e

    def _convert(
        self,
        tar: TarReader,
        info: TarMember,
        package: str,
        seen: dict[str, EntryKind],
        contents: dict[str, Content],
    ) -> Entry | None:
        try:
            path = normalise_name(info.name)
            if path == "":
                return None  # "./": the root directory itself
            kind = _kind(info)
            if kind is not None:  # other types: refused by _payload
                check_entry(path, kind, info.linkname, seen)
        except UnsafeEntry as e:
            raise _refused(package, info.name, e) from None
        kind, data, target = self._payload(tar, info, package, contents)
        if kind is EntryKind.FILE:
            contents[path] = data
        seen[path] = kind
        return Entry(
            path=path,
            kind=kind,
            mode=info.mode & 0o7777,
            uid=info.uid,
            gid=info.gid,
            mtime=int(info.mtime),
            data=data,
            target=target,
        )

    def _spill_file(self) -> IO[bytes]:
        """Where this package's large files go (one file, opened on first use; it outlives
        the reader, as long as an entry refers to it)."""
        if self._spill is None:
            self._spill = spill_file()
        return self._spill

    def _payload(
        self,
        tar: TarReader,
        info: TarMember,
        package: str,
        contents: dict[str, Content],
    ) -> tuple[EntryKind, Content, str]:
        """The member's kind, content (regular files) and link target, or PackageError
        (``_convert`` has checked the name and a hard link's target)."""
        if info.isreg():
            data: Content
            try:
                if info.size > SPILL_SIZE:
                    data = Spilled.copy(tar.read_data, info.size, self._spill_file())
                else:
                    data = tar.read_data(info.size)
            except (EOFError, TarFormatError) as e:
                raise PackageError(f"{package}: {info.name}: truncated") from e
            return EntryKind.FILE, data, ""
        if info.isdir():
            return EntryKind.DIR, b"", ""
        if info.issym():
            if not info.linkname:
                raise PackageError(f"{package}: {info.name}: symlink with an empty target")
            return EntryKind.SYMLINK, b"", info.linkname
        if info.islnk():
            target = normalise_name(info.linkname)
            return EntryKind.HARDLINK, contents[target], target
        if info.type in (CHAR, BLOCKDEV, FIFO):
            what = "FIFO" if info.type == FIFO else "device node"
            raise PackageError(
                f"{package}: {info.name}: {what} refused (an image ships no device files)"
            )
        raise PackageError(f"{package}: {info.name}: unsupported tar member type")


def read_control(path: Path) -> DebControl:
    """Only the control information of the ``.deb`` at ``path``."""
    with DebReader(path) as deb:
        return deb.control
