"""``fleet.yaml``: which images a fleet rebuilds and how it watches for fixes.

Read into typed models with the image spec's one-line errors (file, field path, the close name
of a typo), then resolved against the fleet file's directory into a ``Fleet``::

    images:
      - spec: images/python.yaml        # a path or a glob; name defaults to the spec's stem
        name: python
        repository: registry.example/team/python   # may hold {name}, e.g. for a glob
        tags: [latest, "3.11"]          # floating tags; each build also gets an immutable tag
    watch:
      interval: 10m                     # 90s, 10m, 1h30m, 1d, or a number of seconds
      advisories: [{osv: PATH-OR-URL}, {tracker: PATH-OR-URL}]
    signing: {key: PATH}                # optional: promotion signs and attests (passphrase:
                                        # $COSIGN_PASSWORD)
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from zerocve.errors import SpecError, UsageError
from zerocve.oci.reference import parse_reference
from zerocve.spec import parse_yaml_model
from zerocve.vuln.db import FeedKind, FeedSource
from zerocve.vuln.feeds.fetch import is_url

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")


def parse_duration(value: object) -> timedelta:
    """``90s``, ``10m``, ``1h30m``, ``1d`` or a number of seconds, as a positive timedelta."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like 10m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"(\d+[smhd])+", value.strip()):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(value))
    else:
        raise ValueError(f"{value!r} is not a duration like 90s, 10m, 1h30m or 1d")
    if seconds <= 0:
        raise ValueError(f"{value!r}: a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AdvisoryEntry(_Model):
    """One feed: ``{osv: PATH-OR-URL}`` or ``{tracker: PATH-OR-URL}``."""

    osv: str | None = None
    tracker: str | None = None

    @model_validator(mode="after")
    def _one(self) -> AdvisoryEntry:
        if (self.osv is None) == (self.tracker is None):
            raise ValueError("give exactly one of osv: or tracker:")
        return self

    @property
    def kind(self) -> FeedKind:
        return "osv" if self.osv is not None else "debian-tracker"

    @property
    def location(self) -> str:
        return self.osv if self.osv is not None else str(self.tracker)


class WatchEntry(_Model):
    interval: Duration = timedelta(minutes=10)
    advisories: list[AdvisoryEntry] = Field(default_factory=list)


class SigningEntry(_Model):
    key: str


class ImageEntry(_Model):
    spec: str
    name: str | None = None
    repository: str
    tags: list[str] = Field(default_factory=lambda: ["latest"], min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        if name is not None and not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} must be lowercase letters, digits, '.', '_' or '-'")
        return name

    @field_validator("repository")
    @classmethod
    def _repository(cls, repository: str) -> str:
        sample = repository.replace("{name}", "x")
        try:
            reference = parse_reference(sample)
        except UsageError as e:
            raise ValueError(str(e)) from None
        if reference.digest is not None or sample.rfind(":") > sample.rfind("/"):
            raise ValueError(f"{repository!r}: give REGISTRY/REPO without a tag or digest")
        return repository

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str], info: ValidationInfo) -> list[str]:
        repository = str(info.data.get("repository", "localhost/x")).replace("{name}", "x")
        for tag in tags:
            try:
                parse_reference(f"{repository}:{tag}")
            except UsageError:
                raise ValueError(
                    f"{tag!r} is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
                ) from None
        return tags


class FleetFile(_Model):
    images: list[ImageEntry] = Field(min_length=1)
    watch: WatchEntry = WatchEntry()
    signing: SigningEntry | None = None


@dataclass(frozen=True)
class FleetImage:
    """One image of the fleet, resolved: its spec file exists."""

    name: str
    spec: Path  # absolute
    repository: str  # REGISTRY/REPO, no tag
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    path: Path
    images: tuple[FleetImage, ...]
    interval: timedelta
    advisories: tuple[FeedSource, ...]
    signing_key: Path | None = None

    def image(self, name: str) -> FleetImage:
        for image in self.images:
            if image.name == name:
                return image
        known = ", ".join(i.name for i in self.images)
        raise UsageError(f"{self.path}: no image named {name!r} (the fleet has {known})")


def _relative(base: Path, location: str) -> Path:
    return (base / Path(location).expanduser()).resolve()


def _expand(base: Path, index: int, entry: ImageEntry, source: str) -> list[FleetImage]:
    where = f"{source}: images[{index}]"
    pattern = str(base / Path(entry.spec).expanduser())
    matches = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
    if not matches:
        raise SpecError(f"{where}.spec: {entry.spec!r} matches no file")
    if len(matches) > 1 and entry.name is not None:
        raise SpecError(
            f"{where}.name: a name needs a spec that matches one file "
            f"({entry.spec!r} matches {len(matches)}); drop name: to use each file's stem"
        )
    if len(matches) > 1 and "{name}" not in entry.repository:
        raise SpecError(
            f"{where}.repository: {entry.spec!r} matches {len(matches)} specs, which would all "
            "push to one repository; put {name} in it (e.g. registry.example/team/{name})"
        )
    images = []
    for path in matches:
        name = entry.name or path.stem
        if not _NAME.fullmatch(name):
            raise SpecError(
                f"{where}.spec: {path.name}: the stem {name!r} is not an image name "
                "(lowercase letters, digits, '.', '_', '-'); give name:"
            )
        repository = entry.repository.replace("{name}", name)
        images.append(FleetImage(name, path.resolve(), repository, tuple(entry.tags)))
    return images


def parse_fleet(text: str, source: str, base: Path) -> Fleet:
    """The fleet file ``text`` (named ``source`` in errors); paths are relative to ``base``."""
    model = parse_yaml_model(text, source, FleetFile)
    images: list[FleetImage] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(model.images):
        for image in _expand(base, index, entry, source):
            if image.name in seen:
                raise SpecError(
                    f"{source}: images[{index}]: image name {image.name!r} is already used by "
                    f"images[{seen[image.name]}]; give one of them another name:"
                )
            seen[image.name] = index
            images.append(image)
    advisories = tuple(
        FeedSource(a.kind, a.location if is_url(a.location) else str(_relative(base, a.location)))
        for a in model.watch.advisories
    )
    key = _relative(base, model.signing.key) if model.signing else None
    return Fleet(Path(source), tuple(images), model.watch.interval, advisories, key)


def load_fleet(path: str | Path) -> Fleet:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read fleet file: {e.strerror}") from e
    except UnicodeDecodeError:
        raise SpecError(f"{path}: fleet file is not UTF-8 text") from None
    return parse_fleet(text, str(path), path.resolve().parent)
