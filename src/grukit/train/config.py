"""Run configuration: dataclasses whose fields carry their help text, filled from defaults,
then a config file (TOML or JSON), then ``--key=value`` options, in that order."""

from __future__ import annotations

import argparse
import json
import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

OPTIMIZERS = ("rmsprop", "adam", "adamw")
SCHEDULES = ("none", "plateau", "cosine")


def option(default: Any, help: str) -> Any:
    """A dataclass field with a default and the help text `--help` shows."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """How to train."""

    epochs: int = option(50, "passes over the training split at most")
    batch_size: int = option(8, "sequences per batch")
    optimizer: str = option("adam", "rmsprop (Chung et al. 2014), adam or adamw")
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(0.0, "L2 penalty (decoupled for adamw)")
    clip_norm: float = option(1.0, "clip the gradient's global norm to this; 0 = no clipping")
    weight_noise: float = option(0.0, "std of Gaussian noise added to the weights each batch")
    lr_schedule: str = option("plateau", "none, plateau (halve after flat epochs) or cosine")
    plateau_epochs: int = option(
        3, "plateau: halve the rate after this many epochs without a new best"
    )
    patience: int = option(
        10, "stop after this many epochs without a better validation loss; 0 = never"
    )
    bucket: bool = option(False, "batch sequences of similar length together")
    seed: int = option(0, "seeds the weights, batch order, dropout and weight noise")
    init_from: str = option(
        "",
        "start from the weights of this checkpoint folder (a run's best or last), e.g. one "
        "trained on shorter sequences; the model must have the same shape",
    )

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: got {self.optimizer!r}, wanted one of {', '.join(OPTIMIZERS)}"
            )
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"lr_schedule: got {self.lr_schedule!r}, wanted one of {', '.join(SCHEDULES)}"
            )
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}, wanted an int >= 1")
        if self.patience < 0:
            raise ValueError(f"patience: got {self.patience}, wanted an int >= 0")
        if self.plateau_epochs < 1:
            raise ValueError(f"plateau_epochs: got {self.plateau_epochs}, wanted an int >= 1")
        for name in ("lr", "weight_decay", "clip_norm", "weight_noise"):
            value = getattr(self, name)
            if name == "lr" and not (math.isfinite(value) and value > 0):
                raise ValueError(f"lr: got {value}, wanted a finite number > 0")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: got {value}, wanted a finite number >= 0")


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"got {text!r}, wanted true or false")


def _parser_type(annotation: Any):
    """The argparse type of a field annotation (``str | None`` -> str)."""
    if isinstance(annotation, str):
        annotation = eval(annotation, {"typing": typing})  # noqa: S307 - our own annotations
    if isinstance(annotation, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return parse_bool if annotation is bool else annotation


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    defaults: dict | None = None,
    title: str | None = None,
) -> None:
    """One ``--name`` option per field of ``cls``, documented with its default (``defaults``
    overrides the dataclass's, e.g. a task's own model size)."""
    group = parser.add_argument_group(title or cls.__name__, cls.__doc__)
    for item in fields(cls):
        default = item.default if item.default is not MISSING else None
        default = (defaults or {}).get(item.name, default)
        group.add_argument(
            f"--{item.name.replace('_', '-')}",
            dest=item.name,
            type=_parser_type(item.type),
            default=None,
            metavar=item.name.upper(),
            help=f"{item.metadata.get('help', '')} (default: {default})",
        )


def read_config_file(path: str | Path) -> dict:
    """A TOML or JSON file as a flat dict of option values."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config: {str(path)!r} is not a file")
    text = path.read_text()
    try:
        values = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"config: {str(path)!r} could not be parsed: {error}") from error
    flat: dict = {}
    for key, value in values.items():  # sections ([train], [model]) are only for reading
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def build(cls: type, *layers: dict) -> Any:
    """An instance of ``cls`` from its defaults overridden by each dict in turn (None = unset)."""
    names = {item.name for item in fields(cls)}
    values: dict = {}
    for layer in layers:
        values.update({k: v for k, v in layer.items() if k in names and v is not None})
    return cls(**values)


def unknown_keys(values: dict, *classes: type) -> list[str]:
    known = {item.name for cls in classes for item in fields(cls)}
    return sorted(set(values) - known)
