"""The image spec: apko-shaped YAML read into typed models, with errors naming file and field.

Every field that becomes a path in the image, a line of a file or a tar header is confined
here, at load time, so that no later step has to distrust it:

* names (users, groups) as ``useradd`` accepts them: ``[a-z_][a-z0-9_.-]*`` (a final ``$``
  allowed), at most 32 characters; so no ``:``, ``,`` or newline reaches ``/etc/passwd``;
* uids and gids in 0..2^32-2 (2^32-1 is ``(uid_t) -1``, "no change" to ``chown``), modes in
  0..0o7777;
* paths (``paths[].path``, ``home``, ``shell``, ``work-dir``) absolute and normalised: no
  ``.``, ``..``, ``//`` or trailing ``/``, no NUL, newline or ``:`` (a passwd separator);
  ``paths`` may not name ``/`` itself;
* environment names without ``=``, values and symlink targets without NUL or newline; ``cmd``
  and ``entrypoint.command`` split as a shell would (balanced quotes);
* suites and components (they become URL paths under ``dists/``) without ``..``;
* ``contents.files`` patterns absolute, normalised, one line, read alike by glibc and Python
  (``zerocve.path_filter.check_pattern``), at most 256 of each, and leaving out none of the
  ``PROTECTED`` paths (os-release is what the scanner reads the release from);
* ``paths`` and home directories stay out of what the image's own metadata owns
  (``PROTECTED``: the dpkg database, os-release, the account files, the embedded SBOM), which
  is what the scanner and the gate read; nothing is placed below a ``paths`` symlink or file,
  and no ``paths`` entry other than a directory sits above a protected path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from zerocve.errors import SpecError
from zerocve.path_filter import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, PathFilter, check_pattern
from zerocve.safe_load import LoadError, load_yaml
from zerocve.user_info import split_user_info

NONROOT_ID = 65532
M = TypeVar("M", bound=BaseModel)
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$")
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,30}[a-z0-9_.$-]?$")
_DIST_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/~+-]*$")
MAX_ID = 2**32 - 2
# Image paths (relative to the root) that zerocve or the packages write and the scanner reads:
# no spec field may write at or below them.
PROTECTED = (
    "var/lib/dpkg",
    "var/lib/db/sbom",
    "etc/os-release",
    "usr/lib/os-release",
    "etc/debian_version",
    "etc/passwd",
    "etc/group",
    "etc/shadow",
    "etc/gshadow",
)

Id = Annotated[int, Field(ge=0, le=MAX_ID)]


def _one_line(value: str) -> str:
    if "\0" in value or "\n" in value or "\r" in value:
        raise ValueError("must not contain NUL, a newline or a carriage return")
    return value


def _absolute(path: str) -> str:
    """An absolute, normalised path on one line."""
    _one_line(path)
    if not path.startswith("/") or path.startswith("//") or posixpath.normpath(path) != path:
        raise ValueError(
            f"must be an absolute, normalised path (no '.', '..', '//' or trailing '/'): {path!r}"
        )
    return path


def _passwd_field(value: str) -> str:
    _absolute(value)
    if ":" in value:
        raise ValueError(f"{value!r} must not contain ':' (it separates /etc/passwd fields)")
    return value


def _account_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(
            f"{name!r} is not a user or group name useradd accepts "
            "([a-z_][a-z0-9_.-]*, at most 32 characters)"
        )
    return name


def _dist_part(value: str) -> str:
    if not _DIST_PART_RE.match(value) or ".." in value.split("/"):
        raise ValueError(f"{value!r} is not a suite or component name")
    return value


def _shell_words(value: str) -> str:
    try:
        shlex.split(value)
    except ValueError as e:
        raise ValueError(f"{value!r} does not split into words: {e}") from None
    return value


def _protected_by(path: str) -> str | None:
    """The protected path ``path`` (absolute) is at or below, if any."""
    relative = path.lstrip("/")
    return next((p for p in PROTECTED if relative == p or relative.startswith(p + "/")), None)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RepositorySpec(_Model):
    uri: str
    suites: list[Annotated[str, AfterValidator(_dist_part)]] = Field(min_length=1)
    components: list[Annotated[str, AfterValidator(_dist_part)]] = Field(
        default_factory=lambda: ["main"], min_length=1
    )
    keyring: str | None = None  # None: nothing to verify it with; the repository client refuses it
    # The uri's user info (``user:password@``, percent-encoded), split off as the spec is read:
    # a credential for the fetcher (``zerocve.debian.apt_auth.logins_of``), never part of the
    # repository's identity, so no dump, digest, lock or message holds it.
    _user_info: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _split_user_info(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        user_info = None
        if isinstance(data, dict) and isinstance(data.get("uri"), str):
            uri, user_info = split_user_info(data["uri"])
            data = {**data, "uri": uri}
        model = handler(data)
        if user_info is not None:
            model._user_info = user_info
        return model

    @property
    def user_info(self) -> str | None:
        return self._user_info

    @field_validator("uri")
    @classmethod
    def _scheme(cls, uri: str) -> str:
        if not uri.startswith(("http://", "https://", "file://")):
            raise ValueError("must start with http://, https:// or file://")
        return uri.rstrip("/")


Pattern = Annotated[str, AfterValidator(check_pattern)]


class FileFilter(_Model):
    """Which files of the packages the image leaves out (``zerocve.path_filter``); either list
    given replaces its default, and ``exclude: []`` keeps everything."""

    exclude: list[Pattern] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE),
                                   max_length=256)
    include: list[Pattern] = Field(default_factory=lambda: list(DEFAULT_INCLUDE),
                                   max_length=256)

    def path_filter(self) -> PathFilter:
        return PathFilter(tuple(self.exclude), tuple(self.include))

    @model_validator(mode="after")
    def _keeps_metadata(self) -> FileFilter:
        keep = self.path_filter()
        for path in PROTECTED:
            if keep.leaves_out(f"/{path}"):
                raise ValueError(f"would leave out /{path}, which the image's own metadata "
                                 "owns (the scanner reads it); narrow the exclude patterns "
                                 "or include it")
        return self


class Contents(_Model):
    repositories: list[RepositorySpec] | None = None  # None: the host's apt sources
    packages: list[str] = Field(min_length=1)
    # Packages that only serve maintainer scripts, which a distroless image never runs: a
    # dependency on one of them counts as satisfied and they are not installed, unless named in
    # ``packages``. See the README ("What is left out, and why").
    exclude: list[str] = Field(
        default_factory=lambda: ["dpkg", "debconf", "debconf-2.0", "tar", "perl-base"]
    )
    files: FileFilter = Field(default_factory=FileFilter)

    @field_validator("packages")
    @classmethod
    def _names(cls, packages: list[str]) -> list[str]:
        for item in packages:
            if not _PACKAGE_RE.match(item):
                raise ValueError(f"{item!r} is not a package name (name[:arch][=version])")
        return packages


AccountName = Annotated[str, AfterValidator(_account_name)]
PasswdPath = Annotated[str, AfterValidator(_passwd_field)]


class Group(_Model):
    groupname: AccountName
    gid: Id


class User(_Model):
    username: AccountName
    uid: Id
    gid: Id
    home: PasswdPath | None = None
    shell: PasswdPath = "/sbin/nologin"


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
    command: Annotated[str, AfterValidator(_shell_words)]


class PathSpec(_Model):
    path: str
    type: Literal["directory", "empty-file", "symlink"] = "directory"
    source: Annotated[str, AfterValidator(_one_line)] | None = None  # symlink target
    uid: Id = 0
    gid: Id = 0
    permissions: int = 0o755

    @field_validator("permissions", mode="before")
    @classmethod
    def _octal(cls, value: object) -> object:
        # apko writes modes as 0o755, which YAML 1.1 (PyYAML) reads as a string.
        if isinstance(value, str):
            try:
                value = int(value.removeprefix("0o"), 8)
            except ValueError:
                raise ValueError(f"{value!r} is not an octal mode like 0o755") from None
        if isinstance(value, int) and not 0 <= value <= 0o7777:
            raise ValueError(f"mode {value:#o} is not in 0o0..0o7777")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        if path == "/":
            raise ValueError("must not be '/' (the root belongs to the image)")
        return _absolute(path)

    @model_validator(mode="after")
    def _source(self) -> PathSpec:
        if (self.type == "symlink") != bool(self.source):
            raise ValueError("'source' (the link target) is given for symlinks, and only them")
        return self


def _env_name(name: str) -> str:
    if not name or "=" in name:
        raise ValueError(f"{name!r} is not an environment variable name (empty, or has '=')")
    return _one_line(name)


class ImageSpec(_Model):
    contents: Contents
    accounts: Accounts = DEFAULT_ACCOUNTS
    entrypoint: Entrypoint | None = None
    cmd: str | list[str] | None = None
    work_dir: Annotated[str, AfterValidator(_absolute)] | None = Field(
        default=None, alias="work-dir"
    )
    environment: dict[
        Annotated[str, AfterValidator(_env_name)], Annotated[str, AfterValidator(_one_line)]
    ] = Field(default_factory=dict)
    paths: list[PathSpec] = Field(default_factory=list)
    archs: list[str] = Field(default_factory=lambda: ["amd64"], min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    test: list[list[str]] = Field(default_factory=list)

    @field_validator("cmd")
    @classmethod
    def _cmd(cls, cmd: str | list[str] | None) -> str | list[str] | None:
        return _shell_words(cmd) if isinstance(cmd, str) else cmd

    @model_validator(mode="after")
    def _confined(self) -> ImageSpec:
        """``paths`` and homes stay out of ``PROTECTED`` and out from below a ``paths``
        symlink or file (the tar entry would be written through it)."""
        blockers = {p.path: f"paths[{i}]" for i, p in enumerate(self.paths)
                    if p.type != "directory"}
        placed = [(f"paths[{i}].path", p.path, p.type) for i, p in enumerate(self.paths)]
        placed += [(f"accounts.users[{i}].home", u.home, "directory")
                   for i, u in enumerate(self.accounts.users) if u.home and u.home != "/"]
        for field, path, kind in placed:
            protected = _protected_by(path)
            if protected is not None:
                raise ValueError(f"{field}: {path} is at or below /{protected}, which the "
                                 "image's own metadata owns (the scanner reads it); choose "
                                 "another path")
            if kind != "directory" and any(p.startswith(path[1:] + "/") for p in PROTECTED):
                raise ValueError(f"{field}: {path} lies above protected image metadata; only "
                                 "a directory may be placed there")
            parent = posixpath.dirname(path)
            while parent != "/":
                if parent in blockers:
                    raise ValueError(f"{field}: {path} lies below {parent}, which "
                                     f"{blockers[parent]} makes a non-directory (the entry "
                                     "would be written through it)")
                parent = posixpath.dirname(parent)
        return self

    def resolution_digest(self) -> str:
        """A digest of everything that decides the package set; a lock is fresh for a spec
        while their digests agree."""
        relevant = {
            # Which files are kept decides no package (and leaving it out keeps the locks
            # written before it existed fresh); the build cache key covers it.
            "contents": self.contents.model_dump(mode="json", exclude={"files"}),
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
        if part == "[key]":  # pydantic's marker for a mapping's key: the key itself is named
            continue
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "(top level)"


def _describe(err: dict[str, Any], root: type[BaseModel]) -> str:
    loc = err["loc"]
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown field"
        parent_model = _model_at(loc[:-1], root)
        if parent_model is not None:
            close = difflib.get_close_matches(str(loc[-1]), _field_names(parent_model), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
    # A check across fields (ImageSpec._confined) has no location of its own: its message
    # starts with the field it names.
    return f"{field_location(loc)}: {message}" if loc else message


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field's annotation holds: itself, or inside ``list[...]`` or ``... | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, getattr(annotation, "__args__", ()))), None)


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model a location points into, for 'did you mean' suggestions."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        inner = None if field is None else _model_in(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def parse_yaml_model(text: str, source: str, model: type[M]) -> M:
    """YAML text validated as ``model``; every problem is one ``SpecError`` line naming
    ``source``, the line or field, and the close name of a typo'd key. The image spec and the
    fleet file are both read this way."""
    try:
        data = load_yaml(text)
    except LoadError as e:
        raise SpecError(e.located(source)) from e
    if not isinstance(data, dict):
        raise SpecError(f"{source}: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        # A typo'd key shows up as both "unknown field" and "field required": name the typo.
        first = min(e.errors(), key=lambda err: err["type"] != "extra_forbidden")
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise SpecError(f"{source}: {_describe(dict(first), model)}{more}") from e


def parse_spec(text: str, source: str = "<spec>") -> ImageSpec:
    return parse_yaml_model(text, source, ImageSpec)


def load_spec(path: str | Path) -> ImageSpec:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read spec: {e.strerror}") from e
    return parse_spec(text, str(path))
