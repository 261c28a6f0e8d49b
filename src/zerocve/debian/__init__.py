"""Debian: version order, repository client, resolver, .deb reader."""
