"""A URL's user info (``user:password@``), split off where a repository URI is read.

A repository's identity (what a lock records, what messages, the SBOM and the fleet's keys
name) is its URI without user info; the user info is a credential, handed to the fetcher
alone. No pydantic or httpx here: ``zerocve.debian.http`` uses it on every message.
"""

from __future__ import annotations


def split_user_info(url: str) -> tuple[str, str | None]:
    """``url`` without its user info, and the user info as written (percent-encoded), or
    None when there is none. The user info ends at the last ``@`` of the authority, as
    ``urllib.parse.urlsplit`` splits it."""
    scheme, sep, rest = url.partition("://")
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    at = rest.rfind("@", 0, end)
    if not sep or at < 0:
        return url, None
    return f"{scheme}://{rest[at + 1:]}", rest[:at]


__all__ = ["split_user_info"]
