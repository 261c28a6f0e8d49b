"""The advisory data zerocve scans, written in the format debsecan reads, so that the two
scanners can be timed on the same data (``bench/scan.py``).

debsecan (Debian's own scanner) downloads ``SOURCE/SUITE``: zlib-compressed text, "VERSION 1",
then a block of ``NAME,FLAGS,DESCRIPTION`` lines (one per vulnerability), then a block of
``PACKAGE,INDEX,FLAGS,FIXED_VERSION,OTHER_VERSIONS`` lines (one per affected source package;
INDEX points into the first block; FLAGS are four characters: ``S`` for a source package, the
urgency ``L``/``M``/``H``/space, remote-exploitability ``?``, ``F`` when a fix exists), then a
block of ``SOURCE,BINARIES`` lines, each block ended by an empty line. ``--source file:///DIR/``
reads the file ``DIR/SUITE``.

The records are read with zerocve's own OSV parser (``OsvFeed``), so both scanners see the
same ranges. debsecan knows no "introduced" version: a range that starts above 0 is wider for
it, which only gives it more findings to print.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from zerocve.vuln.feeds.osv import OsvFeed

_URGENCY = {"low": "L", "medium": "M", "high": "H"}


def _field(text: str) -> str:
    """One line of text: debsecan splits lines on newlines and fields on commas."""
    return " ".join(text.split())


def debsecan_data(osv: Path, release: str) -> bytes:
    """The debsecan data file of ``release`` (a codename) for the OSV records at ``osv``."""
    names: list[str] = []
    packages: list[str] = []
    for advisory in OsvFeed().records(osv):
        rows = [a for a in advisory.affected if a.release == release]
        if not rows:
            continue
        index = len(names)
        names.append(f"{advisory.id},,{_field(advisory.description)}")
        for row in rows:
            urgency = _URGENCY.get(row.urgency.rstrip("*").strip().lower(), " ")
            flags = f"S{urgency}?{'F' if row.fixed else ' '}"
            packages.append(f"{_field(row.package)},{index},{flags},{row.fixed or ''},")
    text = "\n".join(["VERSION 1", *names, "", *packages, "", ""]) + "\n"
    return zlib.compress(text.encode())


def write_debsecan_source(osv: Path, release: str, directory: Path) -> str:
    """Write the data file for ``release`` under ``directory``; returns the ``--source`` URL."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / release).write_bytes(debsecan_data(osv, release))
    return directory.resolve().as_uri() + "/"
