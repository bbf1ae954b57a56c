"""Options as dataclasses whose fields carry their help text, filled from defaults, then a
config file (TOML or JSON), then ``--key=value`` options, in that order.

Every options class of grukit (a task's data options, ``ModelConfig``, ``TrainConfig``)
is built with :func:`option`; this module imports nothing else of grukit, so any layer
may use it."""

from __future__ import annotations

import argparse
import json
import math
import tomllib
import types
import typing
from dataclasses import MISSING, field, fields
from pathlib import Path
from typing import Any


def option(default: Any, help: str) -> Any:
    """A dataclass field with a default and the help text `--help` shows."""
    return field(default=default, metadata={"help": help})


def require_at_least(options: Any, minimum: int, *names: str) -> None:
    """ValueError naming the first of the int options ``names`` of ``options`` below
    ``minimum`` (the check every options class makes in ``__post_init__``)."""
    for name in names:
        value = getattr(options, name)
        if value < minimum:
            raise ValueError(f"{name}: got {value}, wanted an int >= {minimum}")


def require_non_negative(options: Any, *names: str) -> None:
    """ValueError naming the first of the float options ``names`` of ``options`` that is
    negative, infinite or NaN."""
    for name in names:
        value = getattr(options, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: got {value}, wanted a finite number >= 0")


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"got {text!r}, wanted true or false")


def comma_separated(text: str) -> tuple[str, ...]:
    """``"a, b,c"`` -> ("a", "b", "c"): how a ``tuple[str, ...]`` option is written on the
    command line."""
    return tuple(token.strip() for token in text.split(",") if token.strip())


def _annotation(annotation: Any) -> Any:
    """A field annotation as a type (our modules write them as strings)."""
    if isinstance(annotation, str):
        return eval(annotation, {"typing": typing})  # noqa: S307 - our own annotations
    return annotation


def _parser_type(annotation: Any):
    """The argparse type of a field annotation (``str | None`` -> str)."""
    annotation = _annotation(annotation)
    if isinstance(annotation, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is tuple:
        return comma_separated
    return parse_bool if annotation is bool else annotation


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    defaults: dict | None = None,
    title: str | None = None,
    description: str | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    """One ``--name`` option per field of ``cls`` (but those in ``skip``), documented with
    its default (``defaults`` overrides the dataclass's, e.g. a task's own model size).
    A true/false option is a flag pair, ``--name`` / ``--no-name``; ``--name true`` and
    ``--name false`` are read too."""
    group = parser.add_argument_group(title or cls.__name__, description or cls.__doc__)
    for item in fields(cls):
        if item.name in skip:
            continue
        default = item.default if item.default is not MISSING else None
        default = (defaults or {}).get(item.name, default)
        text = item.metadata.get("help", "")
        if "(default" not in text:
            text += f" (default: {'none' if default in (None, '') else default})"
        flag = f"--{item.name.replace('_', '-')}"
        kind = _parser_type(item.type)
        if kind is parse_bool:
            group.add_argument(
                flag,
                dest=item.name,
                nargs="?",
                const=True,
                type=parse_bool,
                default=None,
                metavar="true|false",
                help=text,
            )
            group.add_argument(
                f"--no-{flag[2:]}",
                dest=item.name,
                action="store_false",
                default=None,
                help=argparse.SUPPRESS,
            )
            continue
        group.add_argument(
            flag, dest=item.name, type=kind, default=None, metavar=item.name.upper(), help=text
        )


def read_config_file(path: str | Path, flat: bool = True) -> dict:
    """A TOML or JSON file of option values: one flat dict (sections such as [train] are
    only for reading), or with ``flat=False`` as written."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config: {str(path)!r} is not a file")
    try:
        text = path.read_text(encoding="utf-8")  # TOML and JSON are UTF-8 by their specs
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"config: {str(path)!r} could not be parsed: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"config: {str(path)!r} holds no table of options")
    if not flat:
        return values
    flattened: dict = {}
    for key, value in values.items():
        if isinstance(value, dict):  # a section, named as the writer likes ([train], [music])
            flattened.update(value)
        else:
            flattened[key] = value
    for key, value in flattened.items():
        if isinstance(value, dict):  # a table inside a section: refused by name, not unpacked
            raise ValueError(f"{key}: got a table ({value!r}), wanted a single value")
    return flattened


def checked_value(name: str, annotation: Any, value: Any) -> Any:
    """``value`` if it has the type of the field ``name`` (an int is a float too), else
    ValueError naming the option: a config file's ``hidden = "64"`` or ``bidirectional =
    "false"`` is refused, not read as something else."""
    kind = _parser_type(annotation)
    optional = type(None) in typing.get_args(_annotation(annotation))
    if value is None and optional:
        return value
    if kind is parse_bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is comma_separated:  # a list in a config file, or "a,b" as on the command line
        value = comma_separated(value) if isinstance(value, str) else value
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        wanted = {
            parse_bool: "true or false",
            int: "an int",
            float: "a number",
            comma_separated: "a list of names",
        }.get(kind, getattr(kind, "__name__", str(kind)))
        raise ValueError(f"{name}: got {value!r} ({type(value).__name__}), wanted {wanted}")
    return value


def build(cls: type, *layers: dict) -> Any:
    """An instance of ``cls`` from its defaults overridden by each dict in turn (None = unset),
    each value checked against its field's type."""
    types_ = {item.name: item.type for item in fields(cls)}
    values: dict = {}
    for layer in layers:
        values.update({k: v for k, v in layer.items() if k in types_ and v is not None})
    return cls(**{k: checked_value(k, types_[k], v) for k, v in values.items()})


def unknown_keys(values: dict, *classes: type) -> list[str]:
    known = {item.name for cls in classes for item in fields(cls)}
    return sorted(set(values) - known)
