"""The dpkg database of an image: ``var/lib/dpkg/status`` and ``info/<pkg>.{list,md5sums}``.

The file lists and md5sums name only what the image holds. dpkg itself keeps the paths its
``path-exclude`` left out in both (so its ``--verify`` reports them missing, checked with
dpkg 1.21); zerocve's lists agree with the files, so ``dpkg --verify`` on an image is clean.

The status file holds one stanza per package, sorted by name (then architecture), built from
the package's own control file with ``Status: install ok installed`` and ``Conffiles`` (with
the md5 of each conffile as shipped) added, fields in the order dpkg writes them; fields dpkg
drops on install (none of interest here) are kept. The info files are named ``<pkg>.list`` or,
for ``Multi-Arch: same`` packages, ``<pkg>:<arch>.list``, as dpkg names them.
"""

from __future__ import annotations

from collections.abc import Sequence

from zerocve.assemble.rootfs import RootFs, UnpackedPackage
from zerocve.debian.control import format_stanza
from zerocve.oci.layer import Entry, EntryKind

ADMINDIR = "var/lib/dpkg"
INFODIR = f"{ADMINDIR}/info"

# dpkg's own field order in the status file (lib/dpkg/parse.c fieldinfos[]).
_FIELD_ORDER = (
    "Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size",
    "Origin", "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version",
    "Config-Version", "Built-Using", "Static-Built-Using", "Replaces", "Provides", "Depends",
    "Pre-Depends", "Recommends", "Suggests", "Breaks", "Conflicts", "Enhances", "Conffiles",
    "Description", "Triggers-Pending", "Triggers-Awaited",
)


def status_stanza(package: UnpackedPackage) -> str:
    """The package's control fields (which hold no Status or Conffiles of their own:
    ``debian.control.parse_control``) with the two dpkg adds, in dpkg's order."""
    fields = dict(package.control.fields)
    fields["Status"] = "install ok installed"
    if package.conffiles:
        fields["Conffiles"] = "".join(f"\n {path} {md5}" for path, md5 in package.conffiles)
    ordered = [(name, fields.pop(name)) for name in _FIELD_ORDER if name in fields]
    # then user fields (Homepage, ...), in control order
    return format_stanza([*ordered, *fields.items()])


def status_file(packages: Sequence[UnpackedPackage]) -> bytes:
    ordered = sorted(packages, key=lambda p: (p.record.name, p.record.architecture))
    return "\n".join(status_stanza(p) for p in ordered).encode("utf-8")


def database_entries(packages: Sequence[UnpackedPackage], mtime: int) -> list[Entry]:
    """The status file, and ``info/format`` = 1: the multiarch database layout, without
    which dpkg looks for ``libc6.list`` instead of ``libc6:amd64.list``."""
    return [
        Entry(f"{ADMINDIR}/status", EntryKind.FILE, 0o644, mtime=mtime,
              data=status_file(packages)),
        Entry(f"{INFODIR}/format", EntryKind.FILE, 0o644, mtime=mtime, data=b"1\n"),
    ]


def info_entries(package: UnpackedPackage, rootfs: RootFs) -> list[Entry]:
    """``info/<key>.list`` and ``info/<key>.md5sums`` for ``package``, dated with the
    package's own newest mtime so that they change only when the package does."""
    mtime = package.newest_mtime
    listed = rootfs.listed(package)
    listing = "".join(f"{path}\n" for path in listed).encode("utf-8")
    entries = [Entry(f"{INFODIR}/{package.key}.list", EntryKind.FILE, 0o644, mtime=mtime,
                     data=listing)]
    # Only what the image holds: a file left out (``contents.files``) or lost to a package
    # that Replaces this one is not there for ``dpkg --verify`` to check.
    present = set(listed)
    md5sums_lines = [f"{digest}  {path}\n" for path, digest in package.control.md5sums.items()
                     if f"/{path}" in present]
    if md5sums_lines:
        md5sums = "".join(md5sums_lines).encode("utf-8")
        entries.append(Entry(f"{INFODIR}/{package.key}.md5sums", EntryKind.FILE, 0o644,
                             mtime=mtime, data=md5sums))
    return entries
