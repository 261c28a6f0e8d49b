"""Vulnerability matching: advisory DB, matcher, VEX, report formats, gate."""
