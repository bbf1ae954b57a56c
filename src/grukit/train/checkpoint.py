"""Checkpoints as safetensors (every tensor) + JSON (everything else), written atomically.

A checkpoint is a folder:

- ``tensors.safetensors``: the model's state_dict under ``model.``, the optimizer's tensor
  state under ``optimizer.state.{index}.{name}``, the random generators' states under
  ``rng.``;
- ``state.json``: the optimizer's param groups and scalar state, the trainer's progress
  (epoch, best metric, history), the run's config, the caller's ``extra`` and ``format``,
  the layout's version (``FORMAT_VERSION``; a checkpoint without it is version 1, which
  still loads).

Writing goes to a temporary folder beside the target, then one rename, so a crash leaves
either the old checkpoint or the new one, never half of one. Nothing is unpickled on
load: safetensors and JSON only.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

TENSORS = "tensors.safetensors"
STATE = "state.json"
# 1: the first layout (no "format" key); 2: the same, with "format". A reader takes every
# version up to its own and refuses a newer one.
FORMAT_VERSION = 2


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """The torch, NumPy and Python generators' states: tensors and JSON-able parts."""
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy": torch.from_numpy(numpy_state[1].astype(np.int64)),
    }
    meta = {
        "numpy": [numpy_state[0], int(numpy_state[2]), int(numpy_state[3]), float(numpy_state[4])],
        "python": [python_state[0], list(python_state[1]), python_state[2]],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state(
        (name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, cached)
    )
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: dict,
    config: dict,
    extra: dict | None = None,
) -> Path:
    """Write model, optimizer, generators, progress and config to the folder ``path``;
    ``extra``: anything else JSON-able the caller wants kept with the weights (what a
    prediction needs), saved as is under ``"extra"``."""
    path = Path(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optimizer_state = optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for index, state in optimizer_state["state"].items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.state.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    state = {
        "format": FORMAT_VERSION,
        "optimizer": {"param_groups": optimizer_state["param_groups"], "scalars": scalars},
        "rng": rng_meta,
        "progress": progress,
        "config": config,
        "extra": extra or {},
    }
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    save_file(tensors, str(temporary / TENSORS))
    (temporary / STATE).write_text(json.dumps(state, indent=1))
    previous = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(previous)
    temporary.rename(path)
    shutil.rmtree(previous, ignore_errors=True)
    return path


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete or damaged; the message says which."""


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, state) of a checkpoint folder; CheckpointError if it cannot be read."""
    path = Path(path)
    if not (path / TENSORS).is_file() or not (path / STATE).is_file():
        raise CheckpointError(f"checkpoint: {str(path)!r} is not a grukit checkpoint folder")
    try:
        tensors = load_file(str(path / TENSORS))
        state = json.loads((path / STATE).read_text())
    except Exception as error:  # safetensors and json raise several kinds
        raise CheckpointError(f"checkpoint: {str(path)!r} is damaged ({error})") from error
    version = state.get("format", 1) if isinstance(state, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} has format {version!r}, this grukit reads 1 to "
            f"{FORMAT_VERSION} (written by a newer grukit?)"
        )
    return tensors, state


def model_weights(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's state_dict among a checkpoint's tensors (stored under ``model.``)."""
    return {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}


def load_weights(
    tensors: dict[str, torch.Tensor], model: torch.nn.Module, source: str | Path = "checkpoint"
) -> None:
    """Start ``model`` from a checkpoint's model tensors (``read_checkpoint``'s first
    value): a warm start, for fine-tuning or a curriculum from short sequences to long ones.
    The optimizer and generators start afresh. CheckpointError if a tensor's name or shape
    differs (the first four are named). Whether the saved model is of the same kind (two
    kinds can share shapes) is for the caller, who knows what the config means."""
    saved = model_weights(tensors)
    wanted = model.state_dict()
    differences = [
        f"{name} {tuple(saved[name].shape) if name in saved else 'missing'} there, "
        f"{tuple(tensor.shape)} here"
        for name, tensor in wanted.items()
        if name not in saved or saved[name].shape != tensor.shape
    ] + [f"{name} there, not here" for name in saved if name not in wanted]
    if differences:
        raise CheckpointError(
            f"init_from: {str(source)!r} holds a model of another shape (give the same "
            f"--model, --hidden, --layers and task inputs): {'; '.join(differences[:4])}"
        )
    model.load_state_dict(saved)


def restore(
    tensors: dict[str, torch.Tensor],
    state: dict,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    restore_rng: bool = False,
) -> dict:
    """Load a checkpoint's model (and optimizer, generators) in place; return its progress."""
    model.load_state_dict(model_weights(tensors))
    if optimizer is not None:
        optimizer_state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer.state."):
                index, name = key[len("optimizer.state.") :].split(".", 1)
                optimizer_state.setdefault(int(index), {})[name] = value
        for index, scalars in state["optimizer"]["scalars"].items():
            optimizer_state.setdefault(int(index), {}).update(scalars)
        optimizer.load_state_dict(
            {"state": optimizer_state, "param_groups": state["optimizer"]["param_groups"]}
        )
    if restore_rng:
        set_rng_state(tensors, state["rng"])
    return state["progress"]
