"""``/etc/passwd``, ``/etc/group`` and home directories from the spec's accounts.

The files hold ``root`` (0), the spec's groups and users, and ``nobody``/``nogroup`` (65534)
as distroless images do; no ``/etc/shadow`` (no account has a password). ``run-as`` names a
user (or gives a numeric uid); omitted, the image runs as the first spec user, or root when
the spec lists none. The image config's ``User`` is always numeric ``uid:gid``, so that
runtimes need not read ``/etc/passwd`` to drop privileges.
"""

from __future__ import annotations

from dataclasses import dataclass

from zerocve.errors import SpecError
from zerocve.oci.layer import Entry, EntryKind
from zerocve.spec import Accounts

NOBODY = 65534


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


def _accounts(spec: Accounts) -> tuple[list[Account], list[tuple[str, int]]]:
    users = [Account("root", 0, 0, "/root", "/sbin/nologin")]
    users += [
        Account(u.username, u.uid, u.gid, u.home or "/nonexistent", u.shell) for u in spec.users
    ]
    users.append(Account("nobody", NOBODY, NOBODY, "/nonexistent", "/sbin/nologin"))
    groups = [("root", 0)] + [(g.groupname, g.gid) for g in spec.groups] + [("nogroup", NOBODY)]
    _unique("accounts.users", [u.name for u in users], [u.uid for u in users])
    _unique("accounts.groups", [g[0] for g in groups], [g[1] for g in groups])
    gids = {gid for _, gid in groups}
    for index, user in enumerate(spec.users):
        if user.gid not in gids:
            raise SpecError(
                f"accounts.users[{index}].gid: group {user.gid} of {user.username} is not "
                "listed in accounts.groups"
            )
    return users, groups


def _unique(field: str, names: list[str], ids: list[int]) -> None:
    for values, what in ((names, "name"), (ids, "id")):
        seen: set[object] = set()
        for value in values:
            if value in seen:
                raise SpecError(f"{field}: {what} {value} is used twice (or clashes with "
                                "root/nobody)")
            seen.add(value)


def run_as(spec: Accounts) -> str:
    """The config's numeric ``User`` (``uid:gid``)."""
    users, _ = _accounts(spec)
    if spec.run_as is None:
        chosen = users[1] if spec.users else users[0]
        return f"{chosen.uid}:{chosen.gid}"
    for user in users:
        if spec.run_as in (user.name, str(user.uid)):
            return f"{user.uid}:{user.gid}"
    raise SpecError(f"accounts.run-as: no user {spec.run_as!r} in accounts.users")


def account_entries(spec: Accounts, mtime: int) -> list[Entry]:
    """passwd, group and each spec user's home directory (0755, owned by the user)."""
    users, groups = _accounts(spec)
    passwd = "".join(
        f"{u.name}:x:{u.uid}:{u.gid}:{u.name}:{u.home}:{u.shell}\n" for u in users
    )
    group = "".join(f"{name}:x:{gid}:\n" for name, gid in groups)
    entries = [
        Entry("etc/passwd", EntryKind.FILE, 0o644, mtime=mtime, data=passwd.encode()),
        Entry("etc/group", EntryKind.FILE, 0o644, mtime=mtime, data=group.encode()),
        Entry("root", EntryKind.DIR, 0o700, mtime=mtime),
    ]
    for user in spec.users:
        if user.home and user.home != "/":
            entries.append(Entry(user.home.strip("/"), EntryKind.DIR, 0o755, user.uid,
                                 user.gid, mtime))
    return entries
