"""The host's apt sources (deb822 ``*.sources`` and one-line ``*.list``) as repository specs.

Parsing is pure (text in, entries out); ``host_repositories`` is the thin reader over
``/etc/apt`` that also stores inline ``Signed-By`` keys in the cache so gpgv can read them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from zerocve._atomic import write_atomic
from zerocve.debian.gpg import binary_keyring
from zerocve.errors import SpecError
from zerocve.spec import RepositorySpec

_KEY_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):(.*)$")
_OPTIONS_RE = re.compile(r"^\[([^\]]*)\]\s*")


@dataclass(frozen=True)
class SourceEntry:
    """One ``deb`` source as written: a repository, its suites and components, its key."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    where: str  # "file:line", for messages
    signed_by: str | None = None  # a keyring path
    inline_key: str | None = None  # an ASCII-armored key block given in place of a path


def _uri(value: str, where: str) -> str:
    if not value.startswith(("http://", "https://", "file:")):
        raise SpecError(f"{where}: unsupported repository URI {value!r} (http, https or file)")
    if value.startswith("file:") and not value.startswith("file://"):
        value = "file://" + value.removeprefix("file:")  # apt accepts file:/srv/repo
    return value.rstrip("/")


def _entry(
    uri: str, suites: list[str], components: list[str], signed_by: str | None, where: str
) -> SourceEntry:
    for suite in suites:
        if suite.endswith("/"):
            raise SpecError(
                f"{where}: flat repository (suite {suite!r}) is not supported; "
                "list the repository in the image spec instead"
            )
    if not suites or not components:
        raise SpecError(f"{where}: a source needs a suite and at least one component")
    keyring = inline = None
    if signed_by:
        if _KEY_BEGIN in signed_by:
            inline = signed_by.strip() + "\n"
        elif signed_by.startswith("/") and "," not in signed_by and " " not in signed_by:
            keyring = signed_by
        else:
            raise SpecError(
                f"{where}: Signed-By {signed_by!r} is not one keyring path; zerocve needs "
                "exactly one keyring file (or an inline key) per source"
            )
    return SourceEntry(_uri(uri, where), tuple(suites), tuple(components), where, keyring, inline)


def parse_deb822_sources(text: str, source: str) -> list[SourceEntry]:
    """The ``deb`` entries of a deb822 ``.sources`` file; ``Enabled: no`` stanzas are skipped."""
    entries: list[SourceEntry] = []
    fields: dict[str, str] = {}
    start = 0
    last: str | None = None

    def finish() -> None:
        if not fields:
            return
        where = f"{source}:{start}"
        if fields.get("enabled", "yes").strip().lower() == "no":
            return
        if "deb" not in fields.get("types", "").split():
            return
        for required, name in (("uris", "URIs"), ("suites", "Suites")):
            if not fields.get(required, "").strip():
                raise SpecError(f"{where}: stanza has no {name} field")
        signed_by = _dedent_key(fields["signed-by"]) if "signed-by" in fields else None
        for uri in fields["uris"].split():
            entries.append(
                _entry(
                    uri,
                    fields["suites"].split(),
                    fields.get("components", "").split(),
                    signed_by,
                    where,
                )
            )

    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            continue  # apt allows comment lines inside a stanza
        if not line.strip():
            finish()
            fields, last = {}, None
            continue
        if line[0] in " \t":
            if last is None:
                raise SpecError(f"{source}:{number}: continuation line outside a field")
            fields[last] += "\n" + line
            continue
        match = _FIELD_RE.match(line)
        if match is None:
            raise SpecError(f"{source}:{number}: expected 'Field: value', got {line.strip()!r}")
        if not fields:
            start = number
        last = match.group(1).lower()
        fields[last] = match.group(2).strip()
    finish()
    return entries


def _dedent_key(value: str) -> str:
    """An inline key's continuation lines, with the deb822 indentation and ``.`` blanks undone."""
    lines = [line.strip() for line in value.strip().splitlines()]
    return "\n".join("" if line == "." else line for line in lines)


def parse_one_line_sources(text: str, source: str) -> list[SourceEntry]:
    """The ``deb`` lines of a ``sources.list`` style file (``deb-src`` is ignored)."""
    entries: list[SourceEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        kind, _, rest = line.partition(" ")
        if kind == "deb-src":
            continue
        if kind != "deb":
            raise SpecError(f"{where}: expected 'deb' or 'deb-src', got {kind!r}")
        rest = rest.strip()
        options: dict[str, str] = {}
        match = _OPTIONS_RE.match(rest)
        if match:
            for option in match.group(1).split():
                name, sep, value = option.partition("=")
                if not sep:
                    raise SpecError(f"{where}: option {option!r} is not name=value")
                options[name.lower()] = value
            rest = rest[match.end() :]
        words = rest.split()
        if len(words) < 2:
            raise SpecError(f"{where}: expected 'deb [options] uri suite component...'")
        uri, suite, *components = words
        entries.append(_entry(uri, [suite], components, options.get("signed-by"), where))
    return entries


def merge_entries(entries: list[SourceEntry], key_paths: dict[str, str]) -> list[RepositorySpec]:
    """Repository specs from entries: one per repository and keyring, suites that share their
    components grouped together. ``key_paths`` maps an inline key block to its stored file."""
    # (uri, keyring) -> suite -> components, all in first-seen order
    merged: dict[tuple[str, str | None], dict[str, list[str]]] = {}
    for entry in entries:
        keyring = key_paths[entry.inline_key] if entry.inline_key else entry.signed_by
        suites = merged.setdefault((entry.uri, keyring), {})
        for suite in entry.suites:
            components = suites.setdefault(suite, [])
            components.extend(c for c in entry.components if c not in components)
    specs: list[RepositorySpec] = []
    for (uri, keyring), suites in merged.items():
        by_components: dict[tuple[str, ...], list[str]] = {}
        for suite, components in suites.items():
            by_components.setdefault(tuple(components), []).append(suite)
        for components_key, suite_names in by_components.items():
            specs.append(
                RepositorySpec(
                    uri=uri, suites=suite_names, components=list(components_key), keyring=keyring
                )
            )
    return specs


def _store_key(key: str | bytes, key_dir: Path, suffix: str = ".asc") -> str:
    """Write a key block once, under its digest, so gpgv can read it from a file."""
    data = key.encode() if isinstance(key, str) else key
    path = key_dir / f"{hashlib.sha256(data).hexdigest()}{suffix}"
    if not path.exists():
        key_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, error=SpecError, what="cannot store apt key")
    return str(path)


def _parts(etc_apt: Path, main: str, suffixes: tuple[str, ...]) -> list[Path]:
    """``main`` and the files of ``main.d`` ending in ``suffixes``, in apt's order, whether
    or not they exist; other names (``*.disabled``) are skipped, as apt skips them."""
    files = [etc_apt / main]
    parts = etc_apt / f"{main}.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in suffixes)
    return files


def _source_files(etc_apt: Path) -> list[Path]:
    """The files apt reads its sources from."""
    return [f for f in _parts(etc_apt, "sources.list", (".list", ".sources")) if f.is_file()]


def host_inputs(etc_apt: Path) -> tuple[list[Path], list[Path]]:
    """What ``host_repositories`` may read below ``etc_apt`` (existing or not), and the
    directories whose listing decides which of those files there are: a build receipt's
    inputs (``zerocve.cli._build_receipt``)."""
    files = [*_parts(etc_apt, "sources.list", (".list", ".sources")),
             *_parts(etc_apt, "trusted.gpg", (".gpg", ".asc"))]
    return files, [etc_apt / "sources.list.d", etc_apt / "trusted.gpg.d"]


def _trusted_keyring(etc_apt: Path, key_dir: Path) -> str | None:
    """apt's global trust (``trusted.gpg`` and ``trusted.gpg.d/``) as one binary keyring, for
    sources without ``Signed-By``: a stock Debian 12 ``sources.list`` has none."""
    blob = b""  # binary OpenPGP keyrings concatenate
    for path in _parts(etc_apt, "trusted.gpg", (".gpg", ".asc")):
        if not path.is_file():
            continue
        with tempfile.TemporaryDirectory(prefix="zerocve-keys-") as tmp:
            blob += binary_keyring(path, "apt's trusted keys", Path(tmp)).read_bytes()
    return _store_key(blob, key_dir, ".gpg") if blob else None


def host_repositories(
    etc_apt: Path = Path("/etc/apt"), *, key_dir: Path
) -> list[RepositorySpec]:
    """The repositories the host's apt would use for binary packages.

    Inline ``Signed-By`` keys are stored in ``key_dir`` (``<cache>/keys``). A source
    without ``Signed-By`` is checked, as apt does, against every key in ``trusted.gpg`` and
    ``trusted.gpg.d/``; with none there, it gets no keyring and the repository client refuses it.
    """
    entries: list[SourceEntry] = []
    for path in _source_files(etc_apt):
        try:
            text = path.read_text()
        except OSError as e:
            raise SpecError(f"{path}: cannot read apt source: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise SpecError(f"{path}: apt source is not UTF-8 text") from e
        parse = parse_deb822_sources if path.suffix == ".sources" else parse_one_line_sources
        entries += parse(text, str(path))
    key_paths = {
        entry.inline_key: _store_key(entry.inline_key, key_dir)
        for entry in entries
        if entry.inline_key
    }
    if any(not (entry.signed_by or entry.inline_key) for entry in entries):
        trusted = _trusted_keyring(etc_apt, key_dir)
        if trusted:
            entries = [
                entry if entry.signed_by or entry.inline_key else replace(entry, signed_by=trusted)
                for entry in entries
            ]
    return merge_entries(entries, key_paths)
