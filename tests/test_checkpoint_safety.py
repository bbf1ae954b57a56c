"""Checkpoints survive a kill at any point of a save, leave no debris behind dead writers,
and a resume refuses a checkpoint that cannot give an exact one, naming what it lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file, save_file

from grukit.checkpoint import (
    CheckpointError,
    check_resumable,
    read_checkpoint,
    save_checkpoint,
    settle_checkpoint,
)

SAVE = textwrap.dedent(
    """
    import os, pathlib, sys, torch
    import safetensors.torch
    from grukit import checkpoint

    path, point = pathlib.Path(sys.argv[1]), sys.argv[2]
    if point == "writing tensors":  # half the file on disk, then killed
        real_save = safetensors.torch.save_file  # (save_checkpoint imports it when called)
        def save_file(tensors, filename):
            real_save(tensors, filename)
            data = open(filename, "rb").read()
            open(filename, "wb").write(data[: len(data) // 2])
            os._exit(9)
        safetensors.torch.save_file = save_file
    elif point == "writing state":
        real_write = pathlib.Path.write_text
        def write_text(self, *args, **kwargs):
            if self.name == "state.json":
                os._exit(9)
            return real_write(self, *args, **kwargs)
        pathlib.Path.write_text = write_text
    else:  # around the moves: "old moved aside" (before the new moves in), "new moved in"
        real_rename, moves = pathlib.Path.rename, []
        def rename(self, target):
            moves.append(self)
            if point == "old moved aside" and len(moves) == 2:
                os._exit(9)
            result = real_rename(self, target)
            if point == "new moved in" and len(moves) == 2:
                os._exit(9)
            return result
        pathlib.Path.rename = rename
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    checkpoint.save_checkpoint(path, model, optimizer, {"epoch": 2}, {"task": "x"})
    os._exit(0)
    """
)


def saved(path, epoch):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    save_checkpoint(path, model, optimizer, {"epoch": epoch, "best_valid": 1.5}, {"task": "x"})
    return path


@pytest.mark.parametrize(
    "point, survivor",
    [
        ("writing tensors", 1),
        ("writing state", 1),
        ("old moved aside", 2),  # left no last/ at all: --resume restarted at epoch 0
        ("new moved in", 2),
        ("nowhere", 2),
    ],
)
def test_a_save_killed_at_any_point_leaves_the_old_or_the_new_checkpoint(tmp_path, point, survivor):
    last = saved(tmp_path / "last", epoch=1)
    result = subprocess.run(
        [sys.executable, "-c", SAVE, str(last), point], capture_output=True, timeout=120
    )
    assert result.returncode == (0 if point == "nowhere" else 9), result.stderr[-2000:]
    _, state = read_checkpoint(last)
    assert state["progress"]["epoch"] == survivor
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # nothing else left


def test_folders_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    last = saved(tmp_path / "last", epoch=1)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    for name in (f".last.tmp-{dead_pid}", f".last.old-{dead_pid}", f".last.tmp-{os.getpid()}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tensors.safetensors").write_bytes(b"partial")
    settle_checkpoint(last)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".last.tmp-{os.getpid()}", "last"]


def test_a_checkpoint_missing_a_tensor_it_was_written_with_is_refused(tmp_path):
    last = saved(tmp_path / "last", epoch=1)
    tensors = load_file(str(last / "tensors.safetensors"))
    del tensors["optimizer.state.0.exp_avg"]  # resumed with fresh Adam moments before
    save_file(tensors, str(last / "tensors.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"is incomplete: 1 of the tensors .*\(optimizer.state.0.exp_avg\)"
    ):
        read_checkpoint(last)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("no config", "cannot give an exact resume: it lacks its config"),
        ("no rng", "it lacks its rng"),
        ("nan weight", r"holds non-finite weights \(weight\)"),
        ("nan best", "holds best score nan"),
    ],
)
def test_resume_refuses_what_cannot_resume_exactly(tmp_path, damage, message):
    last = saved(tmp_path / "last", epoch=1)
    state = json.loads((last / "state.json").read_text())
    tensors = load_file(str(last / "tensors.safetensors"))
    if damage == "no config":  # skipped the option check before
        del state["config"]
    elif damage == "no rng":
        del state["rng"]
    elif damage == "nan weight":  # went on training NaN with exit 0 before
        tensors["model.weight"][0, 0] = float("nan")
    else:
        state["progress"]["best_valid"] = float("nan")
    (last / "state.json").write_text(json.dumps(state))
    save_file(tensors, str(last / "tensors.safetensors"))
    tensors, state = read_checkpoint(last)
    with pytest.raises(CheckpointError, match=message):
        check_resumable(tensors, state, last)


def test_the_trainer_refuses_to_resume_a_checkpoint_without_its_config(tmp_path):
    from test_trainer import train

    train(tmp_path, epochs=1)
    state = json.loads((tmp_path / "last" / "state.json").read_text())
    del state["config"]
    (tmp_path / "last" / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="lacks its config"):
        train(tmp_path, epochs=2, resume=True)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("state is a list", "its state.json holds a list, not a table"),
        ("no progress", "state.json has no progress table"),
        ("epoch is text", "progress.epoch is 'one', wanted int"),  # a TypeError in the trainer
        ("config is a list", "config is a list, not a table"),
    ],
)
def test_a_damaged_state_file_is_named_not_a_traceback(tmp_path, damage, message):
    last = saved(tmp_path / "last", epoch=1)
    state = json.loads((last / "state.json").read_text())
    if damage == "state is a list":
        state = [state]
    elif damage == "no progress":  # a KeyError in grukit eval
        del state["progress"]
    elif damage == "epoch is text":
        state["progress"]["epoch"] = "one"
    else:
        state["config"] = [1]
    (last / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(last)


def test_a_short_generator_state_is_refused_on_resume(tmp_path):
    """torch raised 'Expected a CPUGeneratorImplState of size 5056' from deep in restore."""
    last = saved(tmp_path / "last", epoch=1)
    tensors = load_file(str(last / "tensors.safetensors"))
    tensors["rng.torch"] = tensors["rng.torch"][:10]
    save_file(tensors, str(last / "tensors.safetensors"))
    tensors, state = read_checkpoint(last)
    with pytest.raises(CheckpointError, match=r"lacks a whole rng.torch \(10 values, wanted \d+\)"):
        check_resumable(tensors, state, last)


@pytest.mark.parametrize("first", [True, False], ids=["first save", "over a previous one"])
def test_a_full_disk_is_one_line_saying_where(tmp_path, monkeypatch, first):
    """It was a SafetensorError traceback (the previous checkpoint did stay intact)."""
    import safetensors.torch
    from safetensors import SafetensorError

    last = tmp_path / "last"
    if not first:
        saved(last, epoch=1)

    def full(tensors, filename):
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No '
            'space left on device" })'
        )

    monkeypatch.setattr(safetensors.torch, "save_file", full)  # save_checkpoint's, when called
    intact = " and the previous one is intact" if not first else ""
    with pytest.raises(
        CheckpointError,
        match=rf"the disk holding {tmp_path} is full \([\d,]+ bytes free\); last was not written"
        + intact,
    ):
        saved(last, epoch=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if first else ["last"])
    if not first:
        assert read_checkpoint(last)[1]["progress"]["epoch"] == 1


class _Payload:
    """Unpickling this would create the file named by ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_nothing_is_unpickled(tmp_path):
    """A pickle in place of a checkpoint's tensors, or inside a data file, never runs."""
    import pickle

    import numpy as np

    from grukit.data.sequences import MalformedData, load_sequence_file

    last = saved(tmp_path / "last", epoch=1)
    (last / "tensors.safetensors").write_bytes(pickle.dumps(_Payload(tmp_path / "ran-1")))
    with pytest.raises(CheckpointError, match="is damaged"):
        read_checkpoint(last)
    features = np.empty(2, dtype=object)
    features[0], features[1] = _Payload(tmp_path / "ran-2"), np.ones((3, 2))
    np.savez(tmp_path / "data.npz", features=features, lengths=[1, 3], labels=[0, 1])
    with pytest.raises(MalformedData, match="ragged"):
        load_sequence_file(tmp_path / "data.npz")
    assert not (tmp_path / "ran-1").exists() and not (tmp_path / "ran-2").exists()
