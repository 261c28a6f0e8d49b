"""The spec an image digest was built from, and what changed in it since. Pure.

The fleet records, with each digest it builds, the validated spec as canonical JSON (every
field, defaults included, as the YAML spells it). Comparing that with the spec now tells a
check whether an image must be rebuilt for an edit outside its contents (entrypoint,
environment, accounts, files filters...), which re-resolution cannot see. Comments,
whitespace, key order and values spelled out at their default give the same JSON: no rebuild.
The record is the text rather than a digest so that the changelog can name what changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from zerocve.oci.image import canonical_json
from zerocve.spec import ImageSpec

# A digest built before the store recorded specs (migration 0004): it is rebuilt once, which
# is quiet (nothing pushed, nothing promoted) when the digest does not change.
NOT_RECORDED = "the spec it was built from is not recorded"


def as_built(spec: ImageSpec) -> str:
    """The validated spec as canonical JSON: what is recorded with a built digest."""
    return canonical_json(spec.model_dump(mode="json", by_alias=True)).decode()


def digest(text: str) -> str:
    """``sha256:…`` of ``as_built``'s text: part of a rebuild's job key."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def changed_fields(before: str, after: str) -> tuple[str, ...]:
    """The fields that differ, as the YAML names them; within ``contents`` one level down
    (``contents.files``), since its parts mean different things."""
    try:
        old, new = json.loads(before), json.loads(after)
    except ValueError:  # a damaged record names nothing; it differs all the same
        return ()
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ()
    return tuple(_differ(old, new, ""))


def _differ(old: dict[str, Any], new: dict[str, Any], prefix: str) -> list[str]:
    found = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) == new.get(key):
            continue
        was, now = old.get(key), new.get(key)
        if prefix == "" and key == "contents" and isinstance(was, dict) and isinstance(now, dict):
            found += _differ(was, now, "contents.")
        else:
            found.append(prefix + key)
    return found


def spec_change(recorded: str | None, now: str) -> str | None:
    """Why the image must be rebuilt for its spec (one line), or None when the spec it was
    built from (``recorded``; None: not recorded) is the spec now."""
    if recorded is None:
        return NOT_RECORDED
    if recorded == now:
        return None
    fields = changed_fields(recorded, now)
    return "the spec changed: " + ", ".join(fields) if fields else "the spec changed"
