"""The image spec: apko-shaped YAML read into typed models, with errors naming file and field."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zerocve.errors import SpecError

NONROOT_ID = 65532
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RepositorySpec(_Model):
    uri: str
    suites: list[str] = Field(min_length=1)
    components: list[str] = Field(default_factory=lambda: ["main"], min_length=1)
    keyring: str | None = None  # None: nothing to verify it with; the repository client refuses it

    @field_validator("uri")
    @classmethod
    def _scheme(cls, uri: str) -> str:
        if not uri.startswith(("http://", "https://", "file://")):
            raise ValueError("must start with http://, https:// or file://")
        return uri.rstrip("/")


class Contents(_Model):
    repositories: list[RepositorySpec] | None = None  # None: the host's apt sources
    packages: list[str] = Field(min_length=1)
    # Packages that only serve maintainer scripts, which a distroless image never runs: a
    # dependency on one of them counts as satisfied and they are not installed, unless named in
    # ``packages``. See the README ("What is left out, and why").
    exclude: list[str] = Field(
        default_factory=lambda: ["dpkg", "debconf", "debconf-2.0", "tar", "perl-base"]
    )

    @field_validator("packages")
    @classmethod
    def _names(cls, packages: list[str]) -> list[str]:
        for item in packages:
            if not _PACKAGE_RE.match(item):
                raise ValueError(f"{item!r} is not a package name (name[:arch][=version])")
        return packages


class Group(_Model):
    groupname: str
    gid: int = Field(ge=0)


class User(_Model):
    username: str
    uid: int = Field(ge=0)
    gid: int = Field(ge=0)
    home: str | None = None
    shell: str = "/sbin/nologin"


class Accounts(_Model):
    groups: list[Group] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    run_as: str | None = Field(default=None, alias="run-as")


DEFAULT_ACCOUNTS = Accounts(
    groups=[Group(groupname="nonroot", gid=NONROOT_ID)],
    users=[User(username="nonroot", uid=NONROOT_ID, gid=NONROOT_ID, home="/home/nonroot")],
    **{"run-as": "nonroot"},
)


class Entrypoint(_Model):
    command: str


class PathSpec(_Model):
    path: str
    type: Literal["directory", "empty-file", "symlink"] = "directory"
    source: str | None = None  # symlink target
    uid: int = 0
    gid: int = 0
    permissions: int = 0o755

    @field_validator("permissions", mode="before")
    @classmethod
    def _octal(cls, value: object) -> object:
        # apko writes modes as 0o755, which YAML 1.1 (PyYAML) reads as a string.
        if isinstance(value, str):
            try:
                return int(value.removeprefix("0o"), 8)
            except ValueError:
                raise ValueError(f"{value!r} is not an octal mode like 0o755") from None
        return value

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        if not path.startswith("/") or ".." in path.split("/"):
            raise ValueError("must be an absolute path without '..'")
        return path


class ImageSpec(_Model):
    contents: Contents
    accounts: Accounts = DEFAULT_ACCOUNTS
    entrypoint: Entrypoint | None = None
    cmd: str | list[str] | None = None
    work_dir: str | None = Field(default=None, alias="work-dir")
    environment: dict[str, str] = Field(default_factory=dict)
    paths: list[PathSpec] = Field(default_factory=list)
    archs: list[str] = Field(default_factory=lambda: ["amd64"], min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    test: list[list[str]] = Field(default_factory=list)

    def resolution_digest(self) -> str:
        """A digest of everything that decides the package set; a lock is fresh for a spec
        while their digests agree."""
        relevant = {
            "contents": self.contents.model_dump(mode="json"),
            "archs": sorted(self.archs),
        }
        blob = json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(blob).hexdigest()


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def field_location(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the document spells it: ``contents.repositories[0].uri``."""
    where = ""
    for part in loc:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    loc = err["loc"]
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown field"
        parent_model = _model_at(loc[:-1])
        if parent_model is not None:
            close = difflib.get_close_matches(str(loc[-1]), _field_names(parent_model), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
    return f"{field_location(loc)}: {message}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field's annotation holds: itself, or inside ``list[...]`` or ``... | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, getattr(annotation, "__args__", ()))), None)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model a location points into, for 'did you mean' suggestions."""
    model: type[BaseModel] = ImageSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        inner = None if field is None else _model_in(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def parse_spec(text: str, source: str = "<spec>") -> ImageSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(f"{source}{where}: invalid YAML: {problem}") from e
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping at the top level")
    try:
        return ImageSpec.model_validate(data)
    except ValidationError as e:
        # A typo'd key shows up as both "unknown field" and "field required": name the typo.
        first = min(e.errors(), key=lambda err: err["type"] != "extra_forbidden")
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise SpecError(f"{source}: {_describe(dict(first))}{more}") from e


def load_spec(path: str | Path) -> ImageSpec:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read spec: {e.strerror}") from e
    return parse_spec(text, str(path))
