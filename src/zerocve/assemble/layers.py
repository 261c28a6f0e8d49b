"""Which packages go in which layer, and what each layer holds.

Strategy: one layer per source package (the binaries built from one source are updated
together, so a security update of, say, openssl changes one layer: ``libssl3`` and
``openssl``), ordered by source name so that the order does not move when versions do. With
more source packages than the cap allows, the largest groups keep their own layer and the
smallest are merged into one shared layer placed first. A final metadata layer holds what
depends on the whole package set: the dpkg status file, passwd/group, the CA bundle and the
other reproduced postinst files, os-release, the merged-/usr links and the spec's paths.

Each package layer carries the package's files, its ``var/lib/dpkg/info/<pkg>.list`` and
``.md5sums``, and every parent directory of its entries (with the image-wide mode and owner),
so a layer's bytes depend only on its own packages.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from zerocve.assemble.dpkg_db import info_entries
from zerocve.assemble.rootfs import RootFs, UnpackedPackage
from zerocve.oci.layer import Entry, EntryKind

MAX_LAYERS = 32  # package layers plus the metadata layer


@dataclass(frozen=True)
class LayerPlan:
    comment: str  # for the image history, e.g. "source openssl: libssl3 openssl"
    packages: tuple[UnpackedPackage, ...]

    @property
    def size(self) -> int:
        """The bytes of its packages' files."""
        return _size(self.packages)


def _size(packages: Iterable[UnpackedPackage]) -> int:
    return sum(e.size for p in packages for e in p.entries)


def plan_layers(
    packages: Sequence[UnpackedPackage], max_layers: int = MAX_LAYERS
) -> list[LayerPlan]:
    """Group ``packages`` by source into at most ``max_layers - 1`` package layers."""
    if max_layers < 3:
        raise ValueError("max_layers must leave room for a shared and a metadata layer")
    groups: dict[str, list[UnpackedPackage]] = {}
    for package in packages:
        groups.setdefault(package.record.source, []).append(package)

    def plan(source: str, members: Sequence[UnpackedPackage]) -> LayerPlan:
        names = " ".join(sorted(p.name for p in members))
        return LayerPlan(f"source {source}: {names}", tuple(members))

    if len(groups) <= max_layers - 1:
        return [plan(source, groups[source]) for source in sorted(groups)]
    by_size = sorted(groups, key=lambda s: (-_size(groups[s]), s))
    own = sorted(by_size[: max_layers - 2])
    shared = sorted(by_size[max_layers - 2 :])
    merged = tuple(p for source in shared for p in groups[source])
    first = LayerPlan(f"shared layer of {len(shared)} small source packages: "
                      + " ".join(shared), merged)
    return [first] + [plan(source, groups[source]) for source in own]


def with_parents(entries: Iterable[Entry], paths: Mapping[str, Entry], mtime: int) -> list[Entry]:
    """``entries`` (first per path wins) plus any missing parent directory, taken from the
    image's ``paths`` when a package ships it, else 0755 root."""
    layer: dict[str, Entry] = {}
    for entry in entries:
        layer.setdefault(entry.path, entry)
    for path in list(layer):
        parent = posixpath.dirname(path)
        while parent and parent not in layer:
            known = paths.get(parent)
            if known is not None and known.kind is EntryKind.DIR:
                layer[parent] = replace(known, mtime=mtime)
            else:
                layer[parent] = Entry(parent, EntryKind.DIR, 0o755, mtime=mtime)
            parent = posixpath.dirname(parent)
    return list(layer.values())


def package_layer_entries(plan: LayerPlan, rootfs: RootFs) -> list[Entry]:
    entries: list[Entry] = []
    for package in plan.packages:
        entries += rootfs.kept[package.name]
        entries += info_entries(package, rootfs)
    mtime = max((p.newest_mtime for p in plan.packages), default=0)
    return with_parents(entries, rootfs.paths, mtime)
