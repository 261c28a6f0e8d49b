"""Which files of a package an image leaves out: dpkg's ``path-exclude``/``path-include``.

Debian's slim images drop documentation with lines in ``/etc/dpkg/dpkg.cfg.d/``; zerocve
applies the same rule, from the spec's ``contents.files``, to each ``.deb``'s data archive:

* a path is matched as dpkg matches it: absolute, as the package ships it (``/bin/sh``, not
  its merged-/usr place), with ``fnmatch`` and no flags, so ``*`` and ``?`` match ``/`` too;
* it is left out when an ``exclude`` pattern matches and no ``include`` pattern does (dpkg
  with every exclude line before every include line, which is how slim configurations are
  written);
* a directory or symlink left out this way is kept when an ``include`` pattern's literal
  prefix (up to its first wildcard) starts its path, as dpkg does so that what the include
  brings back has somewhere to land (``/usr/share/doc/PKG`` stays for its ``copyright``).

Pure: no I/O. The spec checks its patterns with ``check_pattern``, so every pattern reaching
here means the same to Python's ``fnmatch`` as to glibc's.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

# What Debian's slim images leave out (debuerreotype's .slimify-excludes, without its KDE,
# GNOME and OMF help entries, which only bring back English desktop help; all of lintian's
# data, not only its overrides: nothing in an image runs lintian), and glibc's gconv charset
# modules, which Wolfi (glibc-iconv) and Azure Linux ship as an opt-in package: only
# iconv_open() on a charset other than UTF-8, UCS-2, UCS-4 or ASCII loads them (built into
# libc), and an image's only locale, C.UTF-8, is one of those.
GCONV = "/usr/lib/*-linux-gnu*/gconv/*"
DEFAULT_EXCLUDE = ("/usr/share/doc/*", "/usr/share/groff/*", "/usr/share/info/*",
                   "/usr/share/linda/*", "/usr/share/lintian/*", "/usr/share/locale/*",
                   "/usr/share/man/*", GCONV)
# What they keep of it (.slimify-includes): copyright files, so the licenses of what the
# image ships travel with it, and the locale tables programs read, not their translations.
DEFAULT_INCLUDE = ("/usr/share/doc/*/copyright", "/usr/share/locale/all_languages",
                   "/usr/share/locale/currency/*", "/usr/share/locale/l10n/*",
                   "/usr/share/locale/languages", "/usr/share/locale/locale.alias")
MAX_PATTERN = 4096  # PATH_MAX
_WILDCARDS = re.compile(r"[*?\[\\]")


def check_pattern(pattern: str) -> str:
    """``pattern`` if it is one dpkg and zerocve read alike and that can match a path."""
    if not pattern.startswith("/"):
        raise ValueError(f"{pattern!r} must start with '/': dpkg matches absolute paths")
    if len(pattern) > MAX_PATTERN or any(c in pattern for c in "\0\n\r"):
        raise ValueError(f"{pattern[:64]!r}... must be one line of at most {MAX_PATTERN} "
                         "characters")
    # glibc reads '\' as an escape and '[^' as a negated class; Python's fnmatch as literals.
    if "\\" in pattern or "[^" in pattern:
        raise ValueError(f"{pattern!r}: '\\' and '[^' are not supported (use '[!...]')")
    if any(part in ("", ".", "..") for part in pattern[1:].split("/")):
        raise ValueError(f"{pattern!r} must be a normalised path (no '//', '.', '..' or "
                         "trailing '/'): it would match nothing")
    return pattern


@dataclass(frozen=True)
class PathFilter:
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    include: tuple[str, ...] = DEFAULT_INCLUDE
    _excluded: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _included: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_excluded", _compile(self.exclude))
        object.__setattr__(self, "_included", _compile(self.include))
        object.__setattr__(self, "_prefixes", tuple(
            _WILDCARDS.split(pattern, maxsplit=1)[0] for pattern in self.include))

    def leaves_out(self, path: str, *, container: bool = False) -> bool:
        """Whether ``path`` (absolute, as shipped) is left out; ``container``: it is a
        directory or a symlink (module docstring)."""
        if self._excluded is None or not self._excluded.match(path):
            return False
        if self._included is not None and self._included.match(path):
            return False
        return not (container and path.startswith(self._prefixes))


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression matching what any of ``patterns`` matches."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))

