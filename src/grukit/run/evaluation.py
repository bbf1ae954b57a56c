"""Scoring: a model on a task's split, and a checkpoint rebuilt from its saved options
(``grukit eval``)."""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from grukit.checkpoint import CheckpointError, checkpoint_folder, read_state
from grukit.config import build
from grukit.models import load_model, saved_model_config
from grukit.run.options import task_class
from grukit.tasks.base import SPLITS, Task
from grukit.train.trainer import mean_loss

EVAL_BATCH = 16


def score(model: nn.Module, task: Task, split: str) -> dict:
    """The loss and the task's further metrics of ``model`` on ``split``."""
    loss = mean_loss(model, task, split, EVAL_BATCH)
    return {task.metric: loss, **task.scores_from_loss(loss), **task.scores(model, split)}


def load_checkpoint_model(path: str | Path) -> tuple[Task, nn.Module, dict]:
    """(task, model, checkpoint state) rebuilt from a checkpoint folder's saved options:
    the task from its data options, the model through ``grukit.models.load_model`` (the
    one way back from a checkpoint; the task gives the model's shape to checkpoints older
    than the shape saved with them). A run folder stands for its best checkpoint."""
    folder, note = checkpoint_folder(path)
    if note:
        print(note, file=sys.stderr)
    config = read_state(folder).get("config", {})
    if not isinstance(config, dict) or not {"task", "data", "model"} <= set(config):
        raise CheckpointError(
            f"checkpoint: {str(folder)!r} has no task, data and model config (written by "
            "something else, or an older grukit)"
        )
    cls = task_class(config["task"])
    task = cls.from_config(build(cls.Data, config["data"]))
    model, state = load_model(folder, task.model_shape(saved_model_config(config)))
    return task, model, state


def evaluate_checkpoint(path: str | Path, split: str = "test") -> dict:
    """Rebuild a checkpoint's task and model from its saved config and score one split."""
    if split not in SPLITS:
        raise ValueError(f"split: got {split!r}, wanted one of {', '.join(SPLITS)}")
    task, model, state = load_checkpoint_model(path)
    return {
        "task": state["config"]["task"],
        "data": task.title,
        "model": state["config"]["model"]["model"],
        "split": split,
        "epoch": state["progress"]["epoch"],
        "metric": task.metric,
        "scores": score(model, task, split),
    }
