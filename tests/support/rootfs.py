"""Root filesystems whose dpkg database lists real bookworm packages, as many as asked: what
scans are measured on (bench/scan.py, the memory test)."""

from __future__ import annotations

import subprocess
from pathlib import Path

_KEPT = ("Package", "Version", "Architecture", "Source", "Maintainer", "Installed-Size")


def apt_stanzas() -> list[str]:
    """Every stanza of the host's apt index, sorted by package name."""
    dump = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
    ).stdout
    stanzas = [s for s in dump.split("\n\n") if s.startswith("Package: ")]
    return sorted(stanzas, key=lambda s: s.split("\n", 1)[0])


def write_rootfs(target: Path, count: int, stanzas: list[str]) -> None:
    """A root filesystem at ``target`` whose dpkg status lists ``count`` packages spread
    evenly over ``stanzas`` (names, versions and sources exactly as Debian ships them).
    ValueError when there are fewer stanzas than that."""
    chosen = stanzas[:: max(1, len(stanzas) // count)][:count]
    if len(chosen) < count:
        raise ValueError(f"the host's apt index has fewer than {count} packages: "
                         "run apt-get update")
    status = ""
    for stanza in chosen:
        fields = [line for line in stanza.splitlines() if line.split(":", 1)[0] in _KEPT]
        status += "\n".join([fields[0], "Status: install ok installed", *fields[1:]]) + "\n\n"
    (target / "var/lib/dpkg").mkdir(parents=True)
    (target / "var/lib/dpkg/status").write_text(status)
    (target / "etc").mkdir()
    (target / "etc/os-release").write_text(
        'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    )
