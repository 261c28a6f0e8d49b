"""The fleet: images kept at zero fixable CVEs by rebuilding, staging and promoting them."""
