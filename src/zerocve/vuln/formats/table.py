"""``-o table``: a rich table grouped by package, fixable packages first, like grype's."""

from __future__ import annotations

from collections import Counter, defaultdict
from io import StringIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from zerocve.debian.model import InstalledPackage
from zerocve.vuln.formats.interface import RenderOptions
from zerocve.vuln.gate import worst_first
from zerocve.vuln.model import Finding, ScanResult, Severity, State

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "green",
    Severity.NEGLIGIBLE: "dim",
    Severity.UNKNOWN: "dim",
}
_STATE_STYLE = {State.FIXED: "bold", State.OPEN: "", State.FIX_UNAVAILABLE: ""}


def grouped(findings: tuple[Finding, ...]) -> list[tuple[InstalledPackage, list[Finding]]]:
    """Packages with their findings (worst first); a package with a fixable finding comes
    before one without, then the one with the worst finding, then by name."""
    groups: dict[InstalledPackage, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.package].append(f)
    ordered = [(pkg, worst_first(items)) for pkg, items in groups.items()]
    ordered.sort(
        key=lambda g: (
            not any(f.state.fixable for f in g[1]),
            -max(f.severity.rank for f in g[1]),
            g[0].name,
            g[0].architecture,
        )
    )
    return ordered


def _severity(f: Finding) -> Text:
    label = f.severity.value
    scores = [c.score for c in f.cvss if c.score is not None]
    if scores:
        label += f" ({max(scores):.1f})"
    return Text(label, style=_SEVERITY_STYLE[f.severity])


def _findings_table(result: ScanResult) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "INSTALLED", "FIXED-IN", "VULNERABILITY", "SEVERITY", "STATE"):
        table.add_column(column, no_wrap=column != "STATE")
    for i, (package, items) in enumerate(grouped(result.findings)):
        if i:
            table.add_section()
        for j, f in enumerate(items):
            table.add_row(
                package.name if j == 0 else "",
                package.version if j == 0 else "",
                f.fixed_version or "",
                f.vulnerability,
                _severity(f),
                Text(
                    f.state.value + (f": {f.note}" if f.note else ""),
                    style=_STATE_STYLE.get(f.state, "dim"),
                ),
            )
    return table


def _suppressed_table(result: ScanResult) -> Table:
    table = Table(title="Suppressed by VEX", box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "INSTALLED", "VULNERABILITY", "STATUS", "JUSTIFICATION", "STATEMENT"):
        table.add_column(column)
    for s in sorted(
        result.suppressed, key=lambda s: (s.finding.package.name, s.finding.vulnerability)
    ):
        table.add_row(
            s.finding.package.name,
            s.finding.package.version,
            s.finding.vulnerability,
            s.status,
            s.justification or s.impact_statement,
            s.statement_source,
        )
    return table


def summary(result: ScanResult) -> str:
    """``5 findings: 2 fixed, 1 open, 2 no-dsa; 1 suppressed by VEX`` (states in model order)."""
    counts = Counter(f.state for f in result.findings)
    n = len(result.findings)
    line = f"{n} finding{'' if n == 1 else 's'}"
    if counts:
        line += ": " + ", ".join(f"{counts[s]} {s.value}" for s in State if counts[s])
    if result.suppressed:
        line += f"; {len(result.suppressed)} suppressed by VEX"
    return line


def _header(result: ScanResult) -> str:
    inv = result.inventory
    parts = [inv.target]
    if inv.distro is not None:
        parts.append(f"{inv.distro.id} {inv.distro.version_id} ({inv.distro.codename})")
    parts.append(f"{len(inv.packages)} packages")
    if result.db_built:
        parts.append(f"advisory DB built {result.db_built}")
    return " · ".join(parts)


def render(result: ScanResult, options: RenderOptions) -> str:
    out = StringIO()
    console = Console(
        file=out,
        # A file or a pipe gets every cell whole: tables never expand, so a generous width
        # only stops rich from folding long paths and justifications.
        width=options.width or 1000,
        force_terminal=options.color,
        no_color=not options.color,
        color_system="standard" if options.color else None,
        highlight=False,
        emoji=False,
    )
    console.print(_header(result), style="dim", markup=False, soft_wrap=True)
    if result.findings:
        console.print(_findings_table(result))
    if options.show_suppressed and result.suppressed:
        console.print()
        console.print(_suppressed_table(result))
    text = summary(result)
    if result.suppressed and not options.show_suppressed:
        text += " (--show-suppressed lists them)"
    console.print(text, style="bold", markup=False, soft_wrap=True)
    # rich pads every cell to the column width; trailing blanks only get in the way of diffs.
    return "".join(line.rstrip() + "\n" for line in out.getvalue().splitlines())
