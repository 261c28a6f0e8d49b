"""A binary package's stanza: read from a ``.deb``'s control file, written as deb822 text (the
dpkg status file's stanzas). Pure: no I/O.

A control file is one stanza of the Packages index's own syntax (dpkg-scanpackages copies it
there), so it is read by ``zerocve.debian.index.iter_stanzas``: field names as written, the
first line of a value stripped, continuation lines kept as they are (a Description's leading
space, Conffiles' empty first line), ``#`` lines skipped. A value reads exactly as
python-debian's ``Deb822`` reads it, so that the status file a build writes is the one it
wrote when python-debian parsed it (tests/debian/test_control.py compares the two on real
packages). Where python-debian guesses, a control file is refused here as ``dpkg-deb --build``
refuses it (each checked with dpkg 1.21):

* a line that is neither ``Name: value`` nor a continuation (python-debian drops it);
* a second stanza after a blank line, or a blank continuation line (python-debian drops what
  follows, and written back it would end the stanza);
* a field named twice, in any case (python-debian keeps the last value);
* a field name with a space (python-debian drops the line), a leading hyphen, or of one
  letter (python-debian keeps them; zerocve's scan of the status file refuses the last too);
* a field only dpkg writes (``Status``, ``Config-Version``, ``Triggers-*``): zerocve writes
  the status itself, and a package's own could say it is not installed.

Shapes dpkg lets through are refused too, since no real control file has them: a space
before the colon, a field name outside deb822(5)'s printable ASCII, and a ``Conffiles`` field
(the conffiles member says which they are, and zerocve writes the field from it).

Lines end at ``\\n`` only, as dpkg reads them (python-debian also splits at ``\\r``, ``\\f``,
``\\v`` and Unicode line separators).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zerocve.debian.index import iter_stanzas

# deb822(5): US-ASCII without control characters, space or colon; not starting with # or -.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# Fields dpkg keeps about an installed package, refused in a control file (see above).
STATUS_ONLY = frozenset({"status", "config-version", "conffiles", "triggers-pending",
                         "triggers-awaited"})


def parse_control(text: str) -> dict[str, str]:
    """The fields of a control file's one stanza, in file order; ``ValueError`` naming the
    line or field that dpkg would refuse (see the module's docstring)."""
    stanzas = list(iter_stanzas(text, unique=True))
    if len(stanzas) != 1:
        raise ValueError(f"{len(stanzas)} stanzas, where a control file holds one")
    _, fields = stanzas[0]
    for name, value in fields.items():
        if not _FIELD_NAME.fullmatch(name) or name[0] == "-":
            raise ValueError(f"field name {name!r} is not a deb822 field name")
        if len(name) < 2:  # dpkg's rule for a user-defined field, here as when it is scanned
            raise ValueError(f"field name {name!r} is too short")
        if name.lower() in STATUS_ONLY:
            raise ValueError(f"field {name!r} is dpkg's own, not a package's")
        if "\n" in value and any(not line.strip() for line in value.split("\n")[1:]):
            raise ValueError(f"field {name!r} has a blank continuation line")
    return fields


def format_stanza(fields: Iterable[tuple[str, str]]) -> str:
    """``Name: value`` lines, as ``Deb822.dump`` writes them: no space after the colon of a
    value that is empty or starts on the next line (Conffiles), so that no line ends in one."""
    return "".join(
        f"{name}:{value}\n" if not value or value[0] == "\n" else f"{name}: {value}\n"
        for name, value in fields
    )
