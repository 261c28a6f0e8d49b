"""zerocve: minimal, reproducible, zero-CVE OCI images from Debian packages."""

__version__ = "0.1.0"
