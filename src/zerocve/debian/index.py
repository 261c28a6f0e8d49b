"""Pure parsers for a repository's ``Release`` and ``Packages`` files (no I/O).

The Packages parser is hand-written for speed: the full bookworm main index has ~64,000
stanzas, and only a few fields matter here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from zerocve.debian.model import BinaryPackage, Origin
from zerocve.debian.releases import DebianRelease, debian_release
from zerocve.errors import RepositoryError

# The largest .deb a signed index may list (Debian's largest are under 2 GiB): a larger Size
# is refused, so a download, which stops at the Size, is bounded too.
MAX_DEB_SIZE = 8 << 30


@dataclass(frozen=True)
class IndexFile:
    """A file a Release lists: its path below ``dists/<suite>/``, size and SHA256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Release:
    suite: str | None
    codename: str | None
    version: str | None  # "12.7"; absent for testing and unstable
    date: datetime | None
    valid_until: datetime | None
    acquire_by_hash: bool
    files: dict[str, IndexFile]

    @property
    def debian(self) -> DebianRelease | None:
        """The Debian release this is, by Codename (else Suite) and Version."""
        return debian_release(self.codename or self.suite, self.version)

    def names(self, suite: str) -> bool:
        """Whether this Release is the one for ``suite`` (by Suite or Codename, when given)."""
        given = {name for name in (self.suite, self.codename) if name}
        return not given or suite in given


def iter_stanzas(
    text: str, first_line: int = 1, keep: frozenset[str] | None = None, *,
    unique: bool = False,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, fields) per deb822 stanza; continuation lines join with newlines.
    ``text`` starts at line ``first_line`` of its file; with ``keep``, only those fields are
    returned (every line is still checked). With ``unique``, a field named twice in a stanza,
    in any case, is refused as dpkg refuses it (else the last one is returned)."""
    line_number = first_line
    for block in text.split("\n\n"):
        start = line_number + len(block) - len(block.lstrip("\n"))  # extra blank lines
        line_number += block.count("\n") + 2
        fields: dict[str, str] = {}
        named: set[str] = set()  # with unique: the names seen, lowercased
        key = ""
        stanza = False  # a field seen, kept or not: a stanza of none kept is still one
        for line in block.split("\n"):
            if not line or line[0] == "#":
                continue
            if line[0] in " \t":
                if key:
                    fields[key] += "\n" + line
                continue
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"line {start}: expected 'Field: value' in stanza")
            stanza = True
            if keep is not None and key not in keep:
                key = ""  # and its continuation lines
                continue
            if unique:
                if key.lower() in named:
                    raise ValueError(f"line {start}: field {key!r} given twice in a stanza")
                named.add(key.lower())
            fields[key] = value.strip()
        if stanza:
            yield start, fields


def _date(value: str | None, field: str, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as e:
        raise RepositoryError(f"{what}: Release {field} {value!r} is not a date") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_release(text: str, what: str) -> Release:
    """A Release (or the signed text of an InRelease); ``what`` names it in errors."""
    try:
        stanzas = [fields for _, fields in iter_stanzas(text)]
    except ValueError as e:
        raise RepositoryError(f"{what}: malformed Release: {e}") from e
    if len(stanzas) != 1:
        raise RepositoryError(f"{what}: expected one Release stanza, found {len(stanzas)}")
    (fields,) = stanzas
    if "SHA256" not in fields:
        raise RepositoryError(f"{what}: Release has no SHA256 file list")
    files: dict[str, IndexFile] = {}
    for line in fields["SHA256"].splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            raise RepositoryError(f"{what}: malformed SHA256 line {line.strip()!r}")
        sha256, size, path = parts
        files[path] = IndexFile(path, int(size), sha256.lower())
    return Release(
        suite=fields.get("Suite"),
        codename=fields.get("Codename"),
        version=fields.get("Version"),
        date=_date(fields.get("Date"), "Date", what),
        valid_until=_date(fields.get("Valid-Until"), "Valid-Until", what),
        acquire_by_hash=fields.get("Acquire-By-Hash", "").lower() == "yes",
        files=files,
    )


def safe_pool_path(filename: str) -> bool:
    """Whether a Packages ``Filename`` stays below the repository root."""
    parts = filename.split("/")
    return bool(filename) and not filename.startswith("/") and ".." not in parts


def parse_packages(text: str | Iterable[str], origin: Origin, what: str, *,
                   first_line: int = 1, shared: dict[str, str] | None = None
                   ) -> tuple[BinaryPackage, ...]:
    """Every stanza of a Packages index as a BinaryPackage; ``what`` names the index, and
    ``text`` starts at its line ``first_line``. ``text`` may come in pieces that each end
    where a stanza does (``stanza_pieces``), so that the whole index never needs to be held
    as text. Values equal to one in ``shared`` are that one (``_package``)."""
    packages: list[BinaryPackage] = []
    shared = {} if shared is None else shared
    line = first_line
    try:
        for piece in [text] if isinstance(text, str) else text:
            for start, fields in iter_stanzas(piece, line, _PACKAGE_FIELDS):
                packages.append(_package(fields, origin, f"{what}:{start}", shared))
            line += piece.count("\n") + 2  # the blank line the piece was cut at
    except ValueError as e:
        raise RepositoryError(f"{what}: malformed Packages index: {e}") from e
    return tuple(packages)


# What ``_package`` reads: the rest (descriptions above all) is never kept.
_PACKAGE_FIELDS = frozenset({
    "Package", "Version", "Architecture", "Source", "Filename", "Size", "SHA256", "Depends",
    "Pre-Depends", "Provides", "Conflicts", "Breaks", "Multi-Arch", "Essential", "Priority",
    "Installed-Size",
})
def stanza_pieces(chunks: Iterable[str]) -> Iterator[str]:
    """``chunks`` of a deb822 text regrouped into pieces cut where ``str.split("\n\n")``
    would cut the whole text (at the first blank line of a run), without the cut itself."""
    pending = ""
    for chunk in chunks:
        pending += chunk
        cut = pending.rfind("\n\n")
        while cut > 0 and pending[cut - 1] == "\n":
            cut -= 1
        if cut > 0:
            yield pending[:cut]
            pending = pending[cut + 2:]
    yield pending


def _flat(value: str) -> str:
    """A relationship field folded over several lines, on one line."""
    return " ".join(value.split()) if "\n" in value else value


def _package(fields: dict[str, str], origin: Origin, where: str, shared: dict[str, str]
             ) -> BinaryPackage:
    """The record of one stanza. Values many stanzas repeat (versions, sources, dependency
    lists, architectures) are kept once, through ``shared``: a full index holds a third as
    many distinct ones as it has stanzas."""
    try:
        name = fields["Package"]
        version = fields["Version"]
        filename = fields["Filename"]
        size = int(fields["Size"])
        sha256 = fields["SHA256"].lower()
    except KeyError as e:
        named = f"{fields['Package']}: " if "Package" in fields else ""
        raise RepositoryError(f"{where}: {named}stanza has no {e.args[0]} field") from e
    except ValueError as e:
        raise RepositoryError(f"{where}: {fields.get('Package')}: Size is not a number") from e
    if not safe_pool_path(filename):
        raise RepositoryError(f"{where}: {name}: unsafe Filename {filename!r}")
    if size > MAX_DEB_SIZE:
        raise RepositoryError(
            f"{where}: {name}: Size {size} is over the {MAX_DEB_SIZE} bytes zerocve accepts"
        )
    common = shared.setdefault
    version = common(version, version)
    source, source_version = name, version
    if "Source" in fields:
        source, _, rest = fields["Source"].partition(" ")
        source = common(source, source)
        if rest:
            source_version = rest.strip().strip("()").strip()
            source_version = common(source_version, source_version)
    installed = fields.get("Installed-Size", "0")
    get = fields.get
    return BinaryPackage(
        name=name,
        version=version,
        architecture=common(arch := get("Architecture", origin.architecture), arch),
        source=source,
        source_version=source_version,
        filename=filename,
        size=size,
        sha256=sha256,
        origin=origin,
        depends=common(depends := _flat(get("Depends", "")), depends),
        pre_depends=common(pre_depends := _flat(get("Pre-Depends", "")), pre_depends),
        provides=common(provides := _flat(get("Provides", "")), provides),
        conflicts=common(conflicts := _flat(get("Conflicts", "")), conflicts),
        breaks=common(breaks := _flat(get("Breaks", "")), breaks),
        multi_arch=common(multi_arch := get("Multi-Arch", "no"), multi_arch),
        essential=get("Essential", "no") == "yes",
        priority=common(priority := get("Priority", "optional"), priority),
        installed_size=int(installed) if installed.isdigit() else 0,
    )
