"""YAML and JSON from files an attacker may have written, with a bound on what they cost.

Every spec, lock, feed, VEX document, manifest and registry reply goes through here, so a
hostile input is refused by one rule wherever it comes in:

* YAML: at most ``MAX_YAML_ALIASES`` alias references and ``MAX_YAML_NODES`` nodes once
  aliases are expanded (a 12 KB "billion laughs" document expands to gigabytes when it is
  validated), and nesting at most ``MAX_DEPTH`` deep; PyYAML's safe loader otherwise.
* JSON: at most ``max_bytes`` (``MAX_JSON_BYTES`` unless the caller knows a tighter bound)
  and nesting at most ``MAX_DEPTH`` deep (the C parser recurses once per level, and so does
  every walk of the result after it).

Failures are ``LoadError``; callers name the file and pick their own error class
(``raise SpecError(e.located(path)) from e``).
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 64
MAX_YAML_ALIASES: Final = 256
MAX_YAML_NODES: Final = 100_000
MAX_JSON_BYTES: Final = 64 << 20


class LoadError(ValueError):
    """A document that is malformed or over a bound; the message names no file, ``at`` is
    ``:LINE:COLUMN`` when the parser knows where."""

    def __init__(self, message: str, at: str = "") -> None:
        super().__init__(message)
        self.at = at

    def located(self, source: str) -> str:
        """The one-line error for the document ``source`` names."""
        return f"{source}{self.at}: {self}"


def load_yaml(text: str) -> Any:
    """The document in ``text`` as plain Python values."""
    from zerocve.safe_load._yaml import load

    return load(text)


def load_json(data: bytes | str, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON value in ``data`` (UTF-8 when bytes)."""
    if len(data) > max_bytes:
        raise LoadError(f"JSON document larger than {max_bytes} bytes, refused")
    try:
        value = json.loads(data)
    except json.JSONDecodeError as e:
        raise LoadError(f"invalid JSON: {e.msg}", f":{e.lineno}:{e.colno}") from e
    except UnicodeDecodeError as e:
        raise LoadError(f"JSON is not UTF-8 text: {e.reason}") from e
    except RecursionError as e:
        raise LoadError(f"JSON nested more than {MAX_DEPTH} levels deep") from e
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Refuse a decoded JSON value nested more than ``MAX_DEPTH`` levels (iteratively, so the
    check itself cannot overflow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise LoadError(f"JSON nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


__all__ = [
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "MAX_YAML_ALIASES",
    "MAX_YAML_NODES",
    "LoadError",
    "check_depth",
    "load_json",
    "load_yaml",
]
