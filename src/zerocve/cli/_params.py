"""Converting a command's parameter values without pydantic.

typer (0.2x) converts every value through a pydantic ``TypeAdapter`` it builds when the command
runs: importing pydantic and building those schemas cost more CPU than a whole scan of 40
packages (issue 10). The kinds of parameter zerocve's commands declare, flags, str, Path, an
Enum of choices and lists of them, are converted here with typer's own helpers, to the same values.
Every other kind is left to typer, and a value that does not convert here is handed to typer's
own conversion, so a bad value is refused with typer's message, word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer import core as _typer_core
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path

    _PYDANTIC_TYPER = True
except ImportError:  # typer before 0.2x converts with click's types: no pydantic to avoid
    _PYDANTIC_TYPER = False

# (value, the parameter's typer.models.ParameterInfo, its click parameter, context) -> value
Convert = Callable[[Any, Any, Any, Any], Any]


class _Unconverted(Exception):
    """A value of a shape this module does not convert: typer's conversion takes it."""


def _flag(value: Any, info: Any, param: Any, ctx: Any) -> Any:
    if type(value) is not bool:
        raise _Unconverted
    return value


def _text(value: Any, info: Any, param: Any, ctx: Any) -> Any:
    if type(value) is not str:
        raise _Unconverted
    return value


def _path(value: Any, info: Any, param: Any, ctx: Any) -> Any:
    if type(value) is not str:
        raise _Unconverted
    # What pydantic makes of a str for a Path; the checks (exists, dir_okay...) are typer's.
    return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)


def _choice(annotation: type[Enum]) -> Convert:
    choices = tuple(annotation)

    def convert(value: Any, info: Any, param: Any, ctx: Any) -> Any:
        return coerce_cli_choice(value, choices=choices, case_sensitive=info.case_sensitive,
                                 ctx=ctx)

    return convert


def _listed(item: Convert) -> Convert:
    def convert(value: Any, info: Any, param: Any, ctx: Any) -> Any:
        # As typer's list adapter: one value stands for a list of one.
        items = value if isinstance(value, list | tuple) else [value]
        return [item(each, info, param, ctx) for each in items]

    return convert


def _leaf(annotation: Any) -> Convert | None:
    if annotation is bool:
        return _flag
    if annotation is str:
        return _text
    if annotation is Path:
        return _path
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(annotation)
    return None


def _converter(descriptor: Any) -> Convert | None:
    """How to convert values of this parameter, or None to leave it to typer."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or info.path_type:
        return None
    if get_origin(descriptor.annotation) is list:
        (item,) = get_args(descriptor.annotation)
        leaf = _leaf(item)
        return _listed(leaf) if leaf is not None else None
    return _leaf(descriptor.annotation)


if _PYDANTIC_TYPER:

    @dataclass(frozen=True)
    class _Converted(RuntimeParam):
        convert: Convert
        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value, self.parameter_info, param, ctx)
            except (_Unconverted, ValueError, BadParameter):
                # typer's own conversion refuses it in its own words (or takes a shape this
                # module does not know).
                return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)

    def _runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
        """What typer calls, once per parameter, when a command first converts its values."""
        convert = _converter(descriptor)
        if convert is None:
            return build_runtime_param(descriptor)
        return _Converted(parameter_info=descriptor.parameter_info,
                          annotation=descriptor.annotation, convert=convert,
                          descriptor=descriptor)


def install() -> None:
    """Make typer convert parameters through this module: every command's, its help option's
    and typer's own completion options' (typer builds those after the group). Idempotent."""
    if _PYDANTIC_TYPER:
        _typer_core.build_runtime_param = _runtime_param
