"""Validate documents against the official JSON schemas vendored in ``tests/schemas/``.

Offline: every schema file there is registered under its ``$id`` (and its file name), so
``$ref``s between them (CycloneDX → spdx.schema.json, jsf-0.82.schema.json) resolve locally.
Add a schema by dropping the official file into that directory.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        resources.append((path.name, resource))
        if isinstance(contents.get("$id"), str):
            resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


def validate(document: Any, schema_file: str) -> None:
    """Raise ``jsonschema.ValidationError`` (the most relevant error) unless ``document`` is
    valid against ``tests/schemas/<schema_file>``."""
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise error
