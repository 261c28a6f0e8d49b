"""OpenVEX 0.2.0: read statements and apply them to findings.

A statement suppresses a finding when it names the finding's vulnerability (its ``name``,
``@id`` or one of its ``aliases`` equals the finding's id or one of the finding's aliases) and
its product (see ``_product_matches``), and when, of all the statements that do so, it is the
latest (statement ``timestamp``, else the document's; on a tie the one read last) and its status
is ``not_affected`` or ``fixed``. A later ``affected`` or ``under_investigation`` statement
therefore revokes an earlier ``not_affected`` one, as the OpenVEX spec asks.

Writing a VEX document is the ``openvex`` output format (``zerocve.vuln.formats.openvex``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from zerocve.debian.model import InstalledPackage
from zerocve.errors import VexError
from zerocve.inventory.model import Inventory
from zerocve.inventory.purls import image_purl, package_purl
from zerocve.safe_load import LoadError, load_json
from zerocve.vuln.model import Finding, Suppression

CONTEXT = "https://openvex.dev/ns/v0.2.0"
STATUSES = ("not_affected", "affected", "fixed", "under_investigation")
JUSTIFICATIONS = (
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
)
SUPPRESSING = frozenset({"not_affected", "fixed"})


@dataclass(frozen=True)
class Product:
    """A statement's product: a purl (``@id`` or ``identifiers.purl``) and its subcomponents.
    An empty ``subcomponents`` means the statement is about the product as a whole."""

    purl: PackageURL | None  # None for an IRI that is not a purl: it matches nothing here
    subcomponents: tuple[PackageURL | None, ...] = ()


@dataclass(frozen=True)
class Statement:
    names: frozenset[str]  # the vulnerability's name, @id and aliases, case-folded
    products: tuple[Product, ...]
    status: str
    justification: str
    impact_statement: str
    timestamp: datetime
    source: str  # "FILE statements[3]"
    order: int  # position among every statement read, for "last one read wins" ties


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise VexError(f"{path}: cannot read VEX document: {e.strerror or e}") from e


def load(paths: Iterable[Path]) -> list[Statement]:
    """Read every VEX file in order; statements keep a global order for tie-breaking."""
    statements: list[Statement] = []
    for path in paths:
        statements.extend(parse(_read(path), str(path), first_order=len(statements)))
    return statements


def load_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Each VEX file's document as written (to attest it), read once and accepted only when
    ``load`` would accept it: the same one-line VexError otherwise."""
    documents = []
    for path in paths:
        document = _document(_read(path), str(path))
        _statements(document, str(path), 0)
        documents.append(document)
    return documents


def parse(text: bytes | str, source: str, *, first_order: int = 0) -> list[Statement]:
    """Parse one OpenVEX document; ``source`` names it in error messages."""
    return _statements(_document(text, source), source, first_order)


def _document(text: bytes | str, source: str) -> dict[str, Any]:
    try:
        doc = load_json(text)
    except LoadError as e:
        raise VexError(e.located(source)) from e
    if not isinstance(doc, dict):
        raise VexError(f"{source}: not an OpenVEX document (expected a JSON object)")
    context = doc.get("@context")
    if not isinstance(context, str) or not context.startswith("https://openvex.dev/ns"):
        raise VexError(
            f"{source}: not an OpenVEX document (@context is {context!r}, expected {CONTEXT!r})"
        )
    return doc


def _statements(doc: dict[str, Any], source: str, first_order: int) -> list[Statement]:
    doc_time = _timestamp(doc.get("timestamp"), f"{source}: timestamp")
    raw = doc.get("statements")
    if not isinstance(raw, list):
        raise VexError(f"{source}: 'statements' must be a list")
    return [
        _statement(item, f"{source}: statements[{i}]", doc_time, first_order + i)
        for i, item in enumerate(raw)
    ]


def _statement(item: Any, where: str, doc_time: datetime, order: int) -> Statement:
    if not isinstance(item, dict):
        raise VexError(f"{where}: must be an object")
    vuln = item.get("vulnerability")
    if isinstance(vuln, str):  # OpenVEX 0.0.x wrote the id as a bare string
        vuln = {"name": vuln}
    if not isinstance(vuln, dict) or not isinstance(vuln.get("name"), str) or not vuln["name"]:
        raise VexError(f"{where}: vulnerability.name is missing")
    aliases = vuln.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise VexError(f"{where}: vulnerability.aliases must be a list of strings")
    names = [vuln["name"], *aliases]
    if isinstance(vuln.get("@id"), str):
        names.append(vuln["@id"])
    status = item.get("status")
    if status not in STATUSES:
        raise VexError(f"{where}: status {status!r} is not one of {', '.join(STATUSES)}")
    justification = item.get("justification", "")
    if justification and justification not in JUSTIFICATIONS:
        raise VexError(
            f"{where}: justification {justification!r} is not one of {', '.join(JUSTIFICATIONS)}"
        )
    impact = item.get("impact_statement", "")
    if not isinstance(impact, str):
        raise VexError(f"{where}: impact_statement must be a string")
    if status == "not_affected" and not (justification or impact):
        raise VexError(
            f"{where}: a not_affected statement needs a justification or an impact_statement"
        )
    products = item.get("products")
    if not isinstance(products, list) or not products:
        raise VexError(f"{where}: products must be a non-empty list")
    return Statement(
        names=frozenset(n.casefold() for n in names),
        products=tuple(_product(p, f"{where}: products[{i}]") for i, p in enumerate(products)),
        status=status,
        justification=justification,
        impact_statement=impact,
        timestamp=_timestamp(item["timestamp"], f"{where}: timestamp")
        if "timestamp" in item
        else doc_time,
        source=where,
        order=order,
    )


def _product(item: Any, where: str) -> Product:
    if not isinstance(item, dict):
        raise VexError(f"{where}: must be an object")
    subs = item.get("subcomponents", [])
    if not isinstance(subs, list):
        raise VexError(f"{where}: subcomponents must be a list")
    purl = _purl(item, where)
    return Product(
        purl=purl,
        subcomponents=tuple(_purl(s, f"{where}.subcomponents[{i}]") for i, s in enumerate(subs)),
    )


def _purl(item: Any, where: str) -> PackageURL | None:
    """The component's purl: its ``@id`` when that is a purl, else ``identifiers.purl``."""
    if not isinstance(item, dict):
        raise VexError(f"{where}: must be an object")
    identifiers = item.get("identifiers") or {}
    if not isinstance(identifiers, dict):
        raise VexError(f"{where}: identifiers must be an object")
    candidates = [item.get("@id"), identifiers.get("purl")]
    texts = [c for c in candidates if isinstance(c, str) and c.startswith("pkg:")]
    if not texts:
        if not any(isinstance(c, str) and c for c in candidates) and "hashes" not in item:
            raise VexError(f"{where}: needs an @id or identifiers")
        return None
    try:
        return PackageURL.from_string(texts[0])
    except ValueError as e:
        raise VexError(f"{where}: invalid purl {texts[0]!r}: {e}") from e


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise VexError(f"{where} is missing or not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise VexError(f"{where}: {value!r} is not an RFC 3339 date-time") from e
    # A zone-less time is read as UTC so that it can be compared with the others.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _qualifiers_match(pattern: PackageURL, actual: PackageURL) -> bool:
    """Each qualifier the pattern gives must agree; those it leaves out match anything."""
    have = actual.qualifiers if isinstance(actual.qualifiers, dict) else {}
    want = pattern.qualifiers if isinstance(pattern.qualifiers, dict) else {}
    return all(have.get(k) == v for k, v in want.items())


def _purl_matches(pattern: PackageURL, actual: PackageURL) -> bool:
    """Type, namespace and name must agree, the version when the pattern gives one, and the
    qualifiers the pattern gives."""
    if (pattern.type, pattern.namespace or None, pattern.name) != (
        actual.type,
        actual.namespace or None,
        actual.name,
    ):
        return False
    if pattern.version and pattern.version != actual.version:
        return False
    return _qualifiers_match(pattern, actual)


def _image_matches(pattern: PackageURL, image: PackageURL | None) -> bool:
    """An image purl naming a digest matches that digest whatever the name (the digest is the
    identity, and a layout directory has no name); without a digest the name must agree."""
    if image is None or pattern.type != "oci":
        return False
    if pattern.version:
        same = pattern.version == image.version
    else:
        same = pattern.name == image.name
    return same and _qualifiers_match(pattern, image)


def _product_matches(product: Product, package: PackageURL, image: PackageURL | None) -> bool:
    """The product is the package itself, or the image with the package among its
    subcomponents (or with none listed: then the statement covers every package in it)."""
    if product.purl is None:
        return False
    if _purl_matches(product.purl, package):
        return True
    if not _image_matches(product.purl, image):
        return False
    return not product.subcomponents or any(
        sub is not None and _purl_matches(sub, package) for sub in product.subcomponents
    )


def _deciding(
    finding: Finding,
    by_name: Mapping[str, Sequence[Statement]],
    package: PackageURL,
    image: PackageURL | None,
) -> Statement | None:
    ids = {finding.vulnerability.casefold(), *(a.casefold() for a in finding.aliases)}
    matching = [
        s
        for name in ids
        for s in by_name.get(name, ())
        if any(_product_matches(p, package, image) for p in s.products)
    ]
    return max(matching, key=lambda s: (s.timestamp, s.order), default=None)


def apply(
    findings: Iterable[Finding], statements: Sequence[Statement], inventory: Inventory
) -> tuple[tuple[Finding, ...], tuple[Suppression, ...]]:
    """Split findings into (still reported, suppressed by VEX)."""
    if not statements:
        return tuple(findings), ()
    by_name: dict[str, list[Statement]] = defaultdict(list)
    for statement in statements:
        for name in statement.names:
            by_name[name].append(statement)
    image_text = image_purl(inventory)
    image = PackageURL.from_string(image_text) if image_text else None
    purls: dict[InstalledPackage, PackageURL] = {}
    kept: list[Finding] = []
    suppressed: list[Suppression] = []
    for finding in findings:
        package = purls.get(finding.package)
        if package is None:
            package = PackageURL.from_string(package_purl(finding.package, inventory))
            purls[finding.package] = package
        decision = _deciding(finding, by_name, package, image)
        if decision is None or decision.status not in SUPPRESSING:
            kept.append(finding)
            continue
        suppressed.append(
            Suppression(
                finding=finding,
                status=decision.status,
                justification=decision.justification,
                statement_source=decision.source,
                impact_statement=decision.impact_statement,
            )
        )
    return tuple(kept), tuple(suppressed)
