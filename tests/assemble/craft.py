"""Hand-made .debs for the tests: real ``ar`` archives around tarballs we choose, so that the
reader meets exactly the malformed or malicious input each test names."""

from __future__ import annotations

import gzip
import io
import lzma
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard


@dataclass(frozen=True)
class Member:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644


def tarball(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.type, info.linkname, info.mode = m.type, m.linkname, m.mode
            info.mtime = 1_600_000_000
            info.size = len(m.data) if m.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(m.data) if m.type == tarfile.REGTYPE else None)
    return buffer.getvalue()


def compress(data: bytes, suffix: str) -> bytes:
    if suffix == "xz":
        return lzma.compress(data)
    if suffix == "zst":
        return zstandard.ZstdCompressor().compress(data)
    if suffix == "gz":
        return gzip.compress(data, mtime=0)
    return data  # "" (plain) or a deliberately unknown suffix


def control_text(package: str, version: str = "1.0", arch: str = "all", **fields: str) -> str:
    lines = [f"Package: {package}", f"Version: {version}", f"Architecture: {arch}",
             "Maintainer: Test <test@example.invalid>"]
    lines += [f"{key.replace('_', '-')}: {value}" for key, value in fields.items()]
    lines.append(f"Description: test package {package}\n a crafted package for zerocve's tests")
    return "\n".join(lines) + "\n"


def make_deb(
    directory: Path,
    package: str,
    members: list[Member],
    *,
    version: str = "1.0",
    arch: str = "all",
    data_suffix: str = "xz",
    control_extra: dict[str, str] | None = None,
    md5sums: str = "",
    conffiles: str = "",
) -> Path:
    """A .deb assembled with the real ``ar`` tool."""
    work = directory / f"{package}.parts"
    work.mkdir(parents=True, exist_ok=True)
    control = [Member("./"), Member("./control",
                                    data=control_text(package, version, arch,
                                                      **(control_extra or {})).encode())]
    if md5sums:
        control.append(Member("./md5sums", data=md5sums.encode()))
    if conffiles:
        control.append(Member("./conffiles", data=conffiles.encode()))
    (work / "debian-binary").write_bytes(b"2.0\n")
    (work / "control.tar.xz").write_bytes(compress(tarball(control), "xz"))
    data_name = "data.tar" + (f".{data_suffix}" if data_suffix else "")
    (work / data_name).write_bytes(compress(tarball([Member("./", tarfile.DIRTYPE), *members]),
                                            data_suffix))
    deb = directory / f"{package}_{version}_{arch}.deb"
    deb.unlink(missing_ok=True)
    subprocess.run(["ar", "rc", str(deb), "debian-binary", "control.tar.xz", data_name],
                   cwd=work, check=True)
    return deb


def directory(name: str) -> Member:
    return Member(name, tarfile.DIRTYPE, mode=0o755)


def symlink(name: str, target: str) -> Member:
    return Member(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


@dataclass(frozen=True)
class Record:
    """A lock entry's fields that the build reads."""

    name: str
    version: str = "1.0"
    architecture: str = "all"
    source: str = ""
    source_version: str = "1.0"
    suite: str = "bookworm"

    def __post_init__(self) -> None:
        if not self.source:
            object.__setattr__(self, "source", self.name)


def crafted(
    directory_: Path, name: str, members: list[Member], source: str = "", **kwargs: object
) -> tuple[Record, Path]:
    """A (record, .deb) pair for ``build_arch``/``unpack``."""
    deb = make_deb(directory_, name, members, **kwargs)  # type: ignore[arg-type]
    return Record(name, source=source), deb
