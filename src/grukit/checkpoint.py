"""Checkpoints as safetensors (every tensor) + JSON (everything else), written atomically.

A checkpoint is a folder:

- ``tensors.safetensors``: the model's state_dict under ``model.``, the optimizer's tensor
  state under ``optimizer.state.{index}.{name}``, the random generators' states under
  ``rng.``;
- ``state.json``: the optimizer's param groups and scalar state, the trainer's progress
  (epoch, best metric, history), the run's config, the caller's ``extra`` and ``format``,
  the layout's version (``FORMAT_VERSION``; a checkpoint without it is version 1, which
  still loads), and (from version 3) the names of every tensor written.

Writing goes to a temporary folder beside the target (``.NAME.tmp-PID``, ``state.json``
last), then the old folder is moved aside (``.NAME.old-PID``), the new one moved in and
the old one removed. A writer killed between those two moves leaves no ``NAME``:
:func:`settle_checkpoint`, which every read runs first, then moves the newest complete
folder back (the new one if it was written to the end, else the old one), and removes
what dead writers left. Nothing is unpickled on load: safetensors and JSON only.

Reading needs no torch (``read_checkpoint(..., framework="np")`` gives NumPy arrays): torch
is imported by the functions that write, resume or restore, not by this module.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import safe_open

if TYPE_CHECKING:
    import torch

TENSORS = "tensors.safetensors"
STATE = "state.json"
# 1: the first layout (no "format" key); 2: the same, with "format"; 3: with "tensors", the
# names of every tensor written (a resume refuses a checkpoint missing one). A reader takes
# every version up to its own and refuses a newer one.
FORMAT_VERSION = 3


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete or damaged; the message says which."""


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """The torch, NumPy and Python generators' states: tensors and JSON-able parts."""
    import torch

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
    import torch

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
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    tensors, stored = {}, set()
    for name, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        if tensor.data_ptr() in stored:  # tied weights: one tensor under two names, which
            tensor = tensor.clone()  # safetensors refuses to store shared; loading re-ties
        stored.add(tensor.data_ptr())
        tensors[f"model.{name}"] = tensor
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
        "tensors": sorted(tensors),
    }
    settle_checkpoint(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    try:
        save_file(tensors, str(temporary / TENSORS))
        (temporary / STATE).write_text(json.dumps(state, indent=1))  # last: marks it complete
    except Exception as error:  # safetensors reports a full disk as SafetensorError
        shutil.rmtree(temporary, ignore_errors=True)
        if _disk_full(error):
            free = shutil.disk_usage(path.parent).free
            raise CheckpointError(
                f"checkpoint: the disk holding {path.parent} is full ({free:,} bytes free); "
                f"{path.name} was not written"
                + (" and the previous one is intact" if path.exists() else "")
            ) from None
        raise
    previous = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(previous)
    temporary.rename(path)
    shutil.rmtree(previous, ignore_errors=True)
    return path


def _disk_full(error: BaseException) -> bool:
    """Whether an error from writing a file says the disk is full (ENOSPC, errno 28)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error)
    return "No space left on device" in text or "StorageFull" in text or "os error 28" in text


def _is_complete(folder: Path) -> bool:
    """Whether a checkpoint folder was written to the end (its state.json, written last,
    parses)."""
    try:
        json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return False
    return (folder / TENSORS).is_file()


def _writer_is_alive(folder: Path) -> bool:
    """Whether the process whose id ends the folder's name still runs."""
    try:
        os.kill(int(folder.name.rsplit("-", 1)[1]), 0)
    except (ProcessLookupError, ValueError, IndexError):
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def settle_checkpoint(path: str | Path) -> None:
    """Finish what a writer killed during :func:`save_checkpoint` left: when ``path`` is
    missing, move back the newest complete folder it left (its new checkpoint if that was
    written to the end, else the old one it had moved aside); then remove every
    ``.NAME.tmp-PID`` and ``.NAME.old-PID`` folder whose writer is no longer running."""
    path = Path(path)
    if not path.parent.is_dir():
        return
    left = [
        folder
        for kind in ("tmp", "old")
        for folder in sorted(path.parent.glob(f".{path.name}.{kind}-*"))
        if folder.is_dir() and not _writer_is_alive(folder)
    ]
    if not path.exists():
        complete = [folder for folder in left if _is_complete(folder)]  # .tmp ones first
        if complete:
            chosen = complete[0]
            try:
                chosen.rename(path)
            except OSError:  # a read-only folder: leave it, the read then says what is wrong
                return
            left.remove(chosen)
            print(
                f"checkpoint: {path} restored from {chosen.name}, left by a save that was "
                f"interrupted",
                file=sys.stderr,
            )
    for folder in left:
        shutil.rmtree(folder, ignore_errors=True)


def checkpoint_folder(path: str | Path) -> tuple[Path, str | None]:
    """(the checkpoint folder ``path`` names, a note or None): a run folder, which holds
    ``best/`` but is no checkpoint itself, stands for its best checkpoint, and the note
    says so."""
    path = Path(path)
    if not (path / STATE).is_file() and (path / "best").is_dir():
        return path / "best", f"checkpoint: {path} is a run folder; reading its best/"
    return path, None


def read_state(path: str | Path) -> dict:
    """The state.json of a checkpoint folder, checked (its format, the types of its parts,
    every tensor it lists present in the tensor file) without reading any tensor;
    CheckpointError saying what is wrong."""
    path = Path(path)
    settle_checkpoint(path)
    if not (path / TENSORS).is_file() or not (path / STATE).is_file():
        raise CheckpointError(f"checkpoint: {str(path)!r} is not a grukit checkpoint folder")
    try:
        with safe_open(str(path / TENSORS), framework="np") as handle:
            names = set(handle.keys())
        state = json.loads((path / STATE).read_text())
    except Exception as error:  # safetensors and json raise several kinds
        raise CheckpointError(f"checkpoint: {str(path)!r} is damaged ({error})") from error
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is damaged: its {STATE} holds a "
            f"{type(state).__name__}, not a table"
        )
    version = state.get("format", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} has format {version!r}, this grukit reads 1 to "
            f"{FORMAT_VERSION} (written by a newer grukit?)"
        )
    _check_state_types(state, path)
    listed = state.get("tensors", [])
    missing = [name for name in listed if name not in names] if isinstance(listed, list) else []
    if missing:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is incomplete: {len(missing)} of the tensors it was "
            f"written with are missing ({', '.join(missing[:4])})"
        )
    return state


def read_checkpoint(
    path: str | Path, *, framework: str = "pt", prefix: str = ""
) -> tuple[dict, dict]:
    """(tensors, state) of a checkpoint folder; CheckpointError if it cannot be read.

    ``framework``: "pt" gives torch tensors, "np" NumPy arrays (no torch imported);
    ``prefix``: only the tensors whose names start with it are read ("model.": the weights
    without the optimizer's state, a third of a checkpoint saved with Adam's)."""
    path = Path(path)
    state = read_state(path)
    try:
        with safe_open(str(path / TENSORS), framework=framework) as handle:
            tensors = {
                name: handle.get_tensor(name) for name in handle.keys() if name.startswith(prefix)
            }
    except Exception as error:
        raise CheckpointError(f"checkpoint: {str(path)!r} is damaged ({error})") from error
    return tensors, state


# What each part of state.json must be: the types a reader relies on.
PROGRESS_TYPES = {
    "epoch": (int,),
    "best_valid": (int, float, type(None)),
    "best_epoch": (int, type(None)),
    "bad_epochs": (int,),
    "halvings": (int,),
    "history": (list,),
    "stopped_early": (bool,),
    "out_of_time": (bool,),
}


def _check_state_types(state: dict, path: str | Path) -> None:
    """CheckpointError naming the first part of state.json that is missing or of the wrong
    type (a hand-edited or damaged file gave tracebacks deep in the trainer)."""
    where = f"checkpoint: {str(path)!r} is damaged:"
    if not isinstance(state.get("progress"), dict):
        raise CheckpointError(f"{where} {STATE} has no progress table")
    for key in ("optimizer", "rng", "config", "extra"):
        if key in state and not isinstance(state[key], dict):
            raise CheckpointError(f"{where} {key} is a {type(state[key]).__name__}, not a table")
    for key, value in state["progress"].items():
        wanted = PROGRESS_TYPES.get(key)
        if wanted is None:  # a key a later grukit added: its reader checks it
            continue
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            raise CheckpointError(
                f"{where} progress.{key} is {value!r}, wanted "
                + " or ".join("null" if t is type(None) else t.__name__ for t in wanted)
            )


def check_resumable(tensors: dict[str, torch.Tensor], state: dict, path: str | Path) -> None:
    """CheckpointError naming what keeps ``read_checkpoint``'s result from an exact
    resume: a missing config (the option check), progress, optimizer or generator state,
    non-finite model weights, or a non-finite best score."""
    import torch

    lacks = [
        f"its {key}"
        for key in ("config", "progress", "optimizer", "rng")
        if not isinstance(state.get(key), dict) or not state[key]
    ] + [name for name in ("rng.torch", "rng.numpy") if name not in tensors]
    sizes = {"rng.torch": torch.get_rng_state().numel(), "rng.numpy": 624}
    lacks += [
        f"a whole {name} ({tensors[name].numel()} values, wanted {size})"
        for name, size in sizes.items()
        if name in tensors and tensors[name].numel() != size
    ]
    if lacks:
        raise CheckpointError(
            f"resume: {str(path)!r} cannot give an exact resume: it lacks {', '.join(lacks)}"
        )
    broken = [
        name[len("model.") :]
        for name, tensor in tensors.items()
        if name.startswith("model.") and tensor.is_floating_point() and not tensor.isfinite().all()
    ]
    best = state["progress"].get("best_valid")
    if broken or (
        best is not None and not (isinstance(best, (int, float)) and math.isfinite(best))
    ):
        what = f"non-finite weights ({', '.join(broken[:4])})" if broken else f"best score {best!r}"
        raise CheckpointError(
            f"resume: {str(path)!r} holds {what}: going on would train from NaN; start a new "
            f"run, or --init-from an earlier checkpoint"
        )


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
