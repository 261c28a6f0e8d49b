"""What a bill of materials says about an inventory, shared by the SBOM writers
(``zerocve.sbom``) and the scan report that is also a BOM (``zerocve.vuln.formats.cyclonedx``):
kept apart from both so that ``sbom`` and ``vuln`` never import each other."""
