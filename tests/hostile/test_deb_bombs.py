"""Package bombs: a .deb of a few kilobytes whose data archive expands to hundreds of
megabytes. One whose data goes far past its signed Installed-Size is refused with one line as
soon as a header says so; an honest large one builds in memory that does not grow with it.

Each .deb is streamed through zstd (zeros compress about 30,000 to one), published in its own
signed loopback repository and built with ``zerocve build`` in a measured process."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
import zstandard
from hostile_kit import one_error_line, run_measured

from support.aptrepo import AptRepo, SigningKey
from zerocve.debian.deb import DebReader
from zerocve.errors import PackageError
from zerocve.oci.tar_reader import MAX_HEADER

BIG = 256 << 20  # the file the bombs carry: 256 MiB of zeros
PEAK_LIMIT_MIB = 200  # holding the file once (never mind twice, as the tar did) is above it


def _member(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode, info.mtime = size, kind, 0o644, 1_600_000_000
    if kind == tarfile.DIRTYPE:
        info.mode = 0o755
    return info.tobuf(tarfile.GNU_FORMAT)


def bomb_deb(directory: Path, name: str, installed_kib: int, size: int = BIG) -> Path:
    """``NAME_1.0_all.deb`` whose data.tar.zst holds ``usr/share/NAME/zeros``, ``size``
    zero bytes, and whose control says ``Installed-Size: installed_kib``."""
    work = directory / f"{name}.parts"
    work.mkdir(parents=True)
    control = (f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@x.invalid>\n"
               f"Installed-Size: {installed_kib}\nDescription: bomb\n a hostile package\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("./control")
        info.size = len(control)
        tar.addfile(info, io.BytesIO(control.encode()))
    (work / "control.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(buffer.getvalue()))
    with (work / "data.tar.zst").open("wb") as raw, \
            zstandard.ZstdCompressor(level=3).stream_writer(raw) as out:
        for directory_ in ("./", "./usr/", "./usr/share/", f"./usr/share/{name}/"):
            out.write(_member(directory_, kind=tarfile.DIRTYPE))
        out.write(_member(f"./usr/share/{name}/zeros", size))
        zeros = bytes(1 << 20)
        left = size
        while left:
            out.write(zeros[: min(left, len(zeros))])
            left -= min(left, len(zeros))
        out.write(bytes(-size % 512 + 1024))  # padding and the two end-of-archive blocks
    (work / "debian-binary").write_bytes(b"2.0\n")
    deb = directory / f"{name}_1.0_all.deb"
    subprocess.run(["ar", "rc", str(deb), "debian-binary", "control.tar.zst", "data.tar.zst"],
                   cwd=work, check=True)
    return deb


def build_in_repo(tmp_path: Path, signing_key: SigningKey, deb: Path, name: str):
    repo = AptRepo(root=tmp_path / "repo", key=signing_key, suites=["bookworm"])
    repo.publish([deb], "bookworm")
    spec = tmp_path / "image.yaml"
    spec.write_text(yaml.safe_dump({"contents": {
        "repositories": [{"uri": repo.uri, "suites": ["bookworm"], "components": ["main"],
                          "keyring": str(repo.keyring)}],
        "packages": [name],
    }}))
    return run_measured("build", str(spec), "-o", str(tmp_path / "out"))


def test_data_past_installed_size_is_refused_cheaply(tmp_path: Path,
                                                     signing_key: SigningKey) -> None:
    deb = bomb_deb(tmp_path, "liar", installed_kib=4)
    assert deb.stat().st_size < 64 << 10
    done, peak = build_in_repo(tmp_path, signing_key, deb, "liar")
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    assert done.returncode == 3, done.stderr
    line = one_error_line(done)
    assert "liar 1.0: ./usr/share/liar/zeros: the data archive expands past the package's " \
           "Installed-Size (4 KiB), refused" in line
    assert not (tmp_path / "out").exists()


def test_honest_large_file_builds_in_bounded_memory(tmp_path: Path,
                                                    signing_key: SigningKey) -> None:
    deb = bomb_deb(tmp_path, "honest", installed_kib=BIG // 1024 + 16)
    done, peak = build_in_repo(tmp_path, signing_key, deb, "honest")
    assert done.returncode == 0, done.stderr
    assert peak < PEAK_LIMIT_MIB, f"{peak} MiB"
    # The file is in the image, whole: its layer's diff_id covers all 256 MiB.
    assert (tmp_path / "out" / "index.json").exists()


def test_installed_size_itself_is_capped(tmp_path: Path) -> None:
    deb = bomb_deb(tmp_path, "huge", installed_kib=1 << 40, size=1)
    with DebReader(deb) as reader, \
            pytest.raises(PackageError, match=r"Installed-Size 1099511627776 KiB is over"):
        list(reader.members())


def test_long_name_header_is_capped(tmp_path: Path) -> None:
    """A GNU long-name header claiming 100 MB is refused from its header, unread."""
    deb = bomb_deb(tmp_path, "longname", installed_kib=1024, size=0)
    data = tmp_path / "longname.parts" / "data.tar.zst"
    header = _member("././@LongLink", 100 << 20, tarfile.GNUTYPE_LONGNAME)
    data.write_bytes(zstandard.ZstdCompressor().compress(header + bytes(100 << 20)))
    subprocess.run(["ar", "rc", str(deb), "debian-binary", "control.tar.zst", "data.tar.zst"],
                   cwd=data.parent, check=True)
    with DebReader(deb) as reader, \
            pytest.raises(PackageError, match=f"more than {MAX_HEADER}"):
        list(reader.members())
