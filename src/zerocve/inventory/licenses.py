"""Licenses from a machine-readable Debian copyright file (DEP-5), as SPDX expressions.

Only files declaring ``Format: …copyright-format…`` are read: free-form copyright files have
no field a program can trust. Each ``License:`` short name becomes an SPDX identifier when
the mapping is obvious (``GPL-2+`` → ``GPL-2.0-or-later``, ``Expat`` → ``MIT``,
``BSD-3-clause`` → ``BSD-3-Clause``) and ``LicenseRef-<name>`` otherwise, so nothing is
dropped and nothing is guessed. DEP-5's ``or``/``and`` map to SPDX ``OR``/``AND`` with the same
precedence (``and`` binds tighter); a comma before the operator closes a group, as DEP-5
defines (``A or B, and C`` is ``(A OR B) AND C``).
"""

from __future__ import annotations

import re

from zerocve.inventory.dpkg import fields, stanzas

# SPDX ids whose DEP-5 spelling differs at most in case.
_SPDX_IDS = {
    i.lower(): i
    for i in (
        "0BSD AFL-2.1 Apache-1.0 Apache-1.1 Apache-2.0 Artistic-1.0 "
        "Artistic-1.0-Perl Artistic-2.0 Beerware BSD-1-Clause BSD-2-Clause BSD-3-Clause "
        "BSD-4-Clause BSL-1.0 bzip2-1.0.6 CC-BY-3.0 CC-BY-4.0 CC-BY-SA-3.0 CC-BY-SA-4.0 "
        "CC0-1.0 CDDL-1.0 curl EPL-1.0 EPL-2.0 FSFAP FSFUL FSFULLR FTL HPND ICU IJG "
        "Info-ZIP ISC libpng LPPL-1.3c MirOS MIT MIT-0 MPL-1.0 MPL-1.1 MPL-2.0 NTP OFL-1.1 "
        "OpenSSL PSF-2.0 Python-2.0 Ruby Sleepycat TCL Unicode-DFS-2015 "
        "Unicode-DFS-2016 Unlicense Vim W3C WTFPL X11 Zlib ZPL-2.1"
    ).split()
}
# DEP-5 names (lowercased) that mean one SPDX license.
_ALIASES = {
    "expat": "MIT",
    "apache-2": "Apache-2.0",
    "mpl-2": "MPL-2.0",
    "cc0": "CC0-1.0",
    "zlib/libpng": "Zlib",
    "openldap-2.8": "OLDAP-2.8",
    "zope-2.1": "ZPL-2.1",
}
# GNU families: SPDX spells the version X.Y and says -only / -or-later.
_GNU = re.compile(r"(AGPL|LGPL|GPL|GFDL)(?:-|v)?(\d)(?:\.(\d))?(\+)?", re.IGNORECASE)
# SPDX exceptions for DEP-5's "with <name> exception".
_EXCEPTIONS = {
    "autoconf": {"2": "Autoconf-exception-2.0", "3": "Autoconf-exception-3.0"},
    "bison": {"": "Bison-exception-2.2"},
    "classpath": {"": "Classpath-exception-2.0"},
    "linux-syscall-note": {"": "Linux-syscall-note"},
    "font": {"": "Font-exception-2.0"},
    "libtool": {"": "Libtool-exception"},
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]*")
_FORMAT = re.compile(r"copyright-format|dep-?5", re.IGNORECASE)


def license_ref(name: str) -> str:
    """``LicenseRef-`` + ``name`` with characters SPDX forbids in an idstring replaced."""
    return "LicenseRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", name)


def _gnu(name: str) -> str | None:
    match = _GNU.fullmatch(name)
    if match is None:
        return None
    family, major, minor, plus = match.groups()
    base = f"{family.upper()}-{major}.{minor or '0'}"
    return f"{base}-or-later" if plus else f"{base}-only"


def spdx_id(name: str) -> str:
    """One DEP-5 short name → an SPDX id or a LicenseRef. A ``+`` on a non-GNU license
    (``MPL-1.1+``) is SPDX syntax that the SPDX tools reject as an unknown id, so it
    becomes ``LicenseRef-MPL-1.1-or-later``."""
    gnu = _gnu(name)
    if gnu is not None:
        return gnu
    if name.endswith("+"):
        return license_ref(name[:-1] + "-or-later")
    known = _ALIASES.get(name.lower()) or _SPDX_IDS.get(name.lower())
    return known if known is not None else license_ref(name)


def _term(text: str) -> str | None:
    """``GPL-2+ with OpenSSL exception`` → ``GPL-2.0-or-later WITH OpenSSL-exception``."""
    parts = re.split(r"\s+with\s+", text.strip(), maxsplit=1, flags=re.IGNORECASE)
    if not _NAME.fullmatch(parts[0]):
        return None
    license_id = spdx_id(parts[0])
    if len(parts) == 1:
        return license_id
    exception = re.sub(r"\s+exception$", "", parts[1].strip(), flags=re.IGNORECASE).lower()
    gnu = _GNU.fullmatch(parts[0])
    versions = _EXCEPTIONS.get(exception, {})
    spdx_exception = versions.get(gnu.group(2) if gnu else "") or versions.get("")
    if spdx_exception is not None and not license_id.startswith("LicenseRef-"):
        return f"{license_id} WITH {spdx_exception}"
    # SPDX has no id for this exception: the whole term is one license of its own.
    return license_ref(f"{parts[0]}-with-{exception}-exception")


def _simple(text: str) -> str | None:
    """A run of terms joined by ``and``/``or`` with no commas."""
    tokens = re.split(r"\s+(and|or)\s+", text.strip(), flags=re.IGNORECASE)
    out: list[str] = []
    for index, token in enumerate(tokens):
        if index % 2:
            out.append(token.upper())
            continue
        term = _term(token)
        if term is None:
            return None
        out.append(term)
    return " ".join(out)


def dep5_expression(short: str) -> str | None:
    """The first line of a DEP-5 ``License:`` field as an SPDX expression; None when it is
    not a license name (free text, empty)."""
    groups = re.split(r",\s*(and|or)\s+", short.strip(), flags=re.IGNORECASE)
    if not groups or not groups[0]:
        return None
    expression = _simple(groups[0])
    for index in range(1, len(groups), 2):
        right = _simple(groups[index + 1])
        if expression is None or right is None:
            return None
        left = f"({expression})" if " " in expression else expression
        right = f"({right})" if " OR " in right or " AND " in right else right
        expression = f"{left} {groups[index].upper()} {right}"
    return expression


def copyright_licenses(text: str) -> tuple[str, ...]:
    """The distinct license expressions of a DEP-5 copyright file, in order of appearance
    (the ``Files: *`` paragraph usually comes first, so the main license leads). Free-form
    files and stand-alone ``License:`` paragraphs (which only hold license texts) give
    nothing."""
    paragraphs = [fields(lines, continuations=False) for lines in stanzas(text)]
    if not paragraphs or paragraphs[0] is None:
        return ()
    if not _FORMAT.search(paragraphs[0].get("format", "")):
        return ()
    found: dict[str, None] = {}
    for index, paragraph in enumerate(paragraphs):
        if paragraph is None or "license" not in paragraph:
            continue
        if index > 0 and "files" not in paragraph:
            continue
        expression = dep5_expression(paragraph["license"])
        if expression is not None:
            found.setdefault(expression)
    return tuple(found)


def conjunction(expressions: tuple[str, ...]) -> str | None:
    """All of a package's licenses as one SPDX expression (every file's license applies)."""
    if not expressions:
        return None
    if len(expressions) == 1:
        return expressions[0]
    return " AND ".join(f"({e})" if " " in e else e for e in expressions)


__all__ = ["conjunction", "copyright_licenses", "dep5_expression", "license_ref", "spdx_id"]
