"""The fleet: images kept at zero fixable CVEs by watching repositories and advisories,
planning, rebuilding, staging and promoting (see DESIGN.md)."""
