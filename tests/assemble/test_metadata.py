"""Accounts, reproduced postinst files and the dpkg status stanza (pure, fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
from craft import Member, crafted, directory

from zerocve.assemble.accounts import account_entries, run_as
from zerocve.assemble.dpkg_db import status_file, status_stanza
from zerocve.assemble.postinst import ca_certificates, nsswitch, os_release, timezone
from zerocve.assemble.rootfs import unpack
from zerocve.debian.releases import DebianRelease, debian_release
from zerocve.errors import SpecError
from zerocve.oci.layer import Entry, EntryKind
from zerocve.spec import DEFAULT_ACCOUNTS, Accounts, Group, User


def test_default_accounts() -> None:
    entries = {e.path: e for e in account_entries(DEFAULT_ACCOUNTS, 7)}
    assert entries["etc/passwd"].data == (
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
        b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")
    assert entries["etc/group"].data == b"root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n"
    home = entries["home/nonroot"]
    assert (home.kind, home.uid, home.gid, home.mode) == (EntryKind.DIR, 65532, 65532, 0o755)
    assert run_as(DEFAULT_ACCOUNTS) == "65532:65532"


def test_run_as_rules() -> None:
    app = Accounts(groups=[Group(groupname="app", gid=1000)],
                   users=[User(username="app", uid=1001, gid=1000)])
    assert run_as(app) == "1001:1000"  # omitted: the first user
    assert run_as(app.model_copy(update={"run_as": "root"})) == "0:0"
    assert run_as(app.model_copy(update={"run_as": "1001"})) == "1001:1000"
    assert run_as(Accounts()) == "0:0"
    with pytest.raises(SpecError, match="accounts.run-as: no user 'ghost'"):
        run_as(app.model_copy(update={"run_as": "ghost"}))


def test_account_clashes() -> None:
    with pytest.raises(SpecError, match="accounts.users: id 0 is used twice"):
        run_as(Accounts(users=[User(username="admin", uid=0, gid=0)]))
    with pytest.raises(SpecError, match=r"accounts.users\[0\].gid: group 5 of u"):
        run_as(Accounts(users=[User(username="u", uid=10, gid=5)]))


def _file(path: str, data: bytes) -> Entry:
    return Entry(path, EntryKind.FILE, 0o644, data=data)


def test_ca_bundle_like_update_ca_certificates() -> None:
    paths = {
        "usr/share/ca-certificates/mozilla/B.crt": _file("", b"B-PEM\n"),
        "usr/share/ca-certificates/mozilla/A cert.crt": _file("", b"A-PEM"),  # no newline
        "usr/share/ca-certificates/mozilla/README": _file("", b"not a cert"),
        "usr/share/ca-certificates/local/C.crt": _file("", b"C-PEM\n"),
    }
    entries = {e.path: e for e in ca_certificates(paths, 1)}
    assert entries["etc/ssl/certs/ca-certificates.crt"].data == b"C-PEM\nA-PEM\nB-PEM\n"
    assert entries["etc/ca-certificates.conf"].data.decode().splitlines()[-3:] == [
        "local/C.crt", "mozilla/A cert.crt", "mozilla/B.crt"]
    assert entries["etc/ssl/certs/A_cert.pem"].target == (
        "/usr/share/ca-certificates/mozilla/A cert.crt")
    assert ca_certificates({}, 1) == []


def test_timezone_only_with_tzdata() -> None:
    assert timezone({}, 1) == []
    entries = {e.path: e for e in timezone({"usr/share/zoneinfo/Etc/UTC": _file("", b"")}, 1)}
    assert entries["etc/localtime"].target == "/usr/share/zoneinfo/Etc/UTC"
    assert entries["etc/timezone"].data == b"Etc/UTC\n"


def test_nsswitch_like_libc_bin() -> None:
    assert nsswitch({}, 1) == []
    shipped = {"usr/share/libc-bin/nsswitch.conf": _file("", b"hosts: files\n")}
    assert nsswitch(shipped, 1)[0].data == b"hosts: files\n"
    (default,) = nsswitch({"usr/lib/x86_64-linux-gnu/libc.so.6": _file("", b"ELF")}, 1)
    assert default.path == "etc/nsswitch.conf"
    host = Path("/usr/share/libc-bin/nsswitch.conf")  # this Debian host's libc-bin
    if host.is_file():
        assert default.data == host.read_bytes()
    assert b"hosts:          files dns\n" in default.data


def test_os_release_fallback() -> None:
    entries = {e.path: e for e in os_release({}, debian_release("bookworm-security", "12"), 1)}
    text = entries["usr/lib/os-release"].data.decode()
    assert "ID=debian\n" in text and 'VERSION_ID="12"' in text
    assert "VERSION_CODENAME=bookworm\n" in text
    assert entries["etc/os-release"].target == "../usr/lib/os-release"
    assert debian_release("sid", None) is None
    assert "VERSION_ID" not in os_release({}, None, 1)[0].data.decode()
    # A suite alias (Suite: stable) is read through the Release's Version; a codename wins.
    stable = os_release({}, debian_release("stable", "12.7"), 1)[0].data.decode()
    assert 'VERSION_ID="12"' in stable and "VERSION_CODENAME=bookworm\n" in stable
    assert debian_release("trixie", None) == DebianRelease("trixie", "13")
    shipped = {"usr/lib/os-release": _file("", b"x")}
    assert [e.path for e in os_release(shipped, None, 1)] == ["etc/os-release"]
    assert os_release({"etc/os-release": _file("", b"x")}, None, 1) == []


def test_status_stanza_in_dpkg_field_order(tmp_path: Path) -> None:
    record, deb = crafted(
        tmp_path, "libdemo1",
        [directory("./etc/"), Member("./etc/demo.conf", data=b"conf\n")],
        control_extra={"Multi-Arch": "same", "Source": "demo", "Depends": "libc6 (>= 2.34)",
                       "Homepage": "https://example.invalid", "Priority": "optional",
                       "Installed-Size": "12", "Section": "libs"},
        conffiles="/etc/demo.conf\n",
    )
    package = unpack(record, deb)
    assert package.key == "libdemo1:all"
    assert status_stanza(package) == (
        "Package: libdemo1\n"
        "Status: install ok installed\n"
        "Priority: optional\n"
        "Section: libs\n"
        "Installed-Size: 12\n"
        "Maintainer: Test <test@example.invalid>\n"
        "Architecture: all\n"
        "Multi-Arch: same\n"
        "Source: demo\n"
        "Version: 1.0\n"
        "Depends: libc6 (>= 2.34)\n"
        "Conffiles:\n"
        " /etc/demo.conf b9a771b420047cfaa3543e66c78f44f6\n"
        "Description: test package libdemo1\n"
        " a crafted package for zerocve's tests\n"
        "Homepage: https://example.invalid\n"
    )
    assert status_file([package, package]).count(b"Package: libdemo1") == 2
