"""Train any task, score a checkpoint: the part of a run every task shares.

A task module (one per name in ``grukit.tasks.TASKS``, e.g. ``grukit.tasks.music``) offers

- ``DataConfig``: a dataclass of its data options (documented fields, ``option()``) and
  ``title``, the name of that data in folder names and plots (e.g. "jsb", "adding-T600");
- ``make_task(config) -> task``: the data, with
  ``batches(split, batch_size, *, shuffle, seed, bucket)``, ``loss(model, batch) ->
  (sum, count)``, ``input_size``, ``outputs``, ``head`` ("step" or "pooled"),
  ``metric`` (the loss's short name, e.g. "nll"), ``title`` (its config's) and
  ``scores(model, split) -> dict`` of further metrics (accuracy, ...); optionally
  ``report(model, out_dir) -> dict``, which writes the task's own pictures (a confusion
  matrix, a forecast plot) into the run folder and returns what goes into result.json
  beside the scores (e.g. a baseline's numbers on the same split);
- ``MODEL_DEFAULTS`` / ``TRAIN_DEFAULTS``: the task's own defaults for the model and
  training options (e.g. the paper's sizes).

Run folder: metrics.jsonl, best/ and last/ checkpoints, curves.png, result.json.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from grukit.layers import GRU
from grukit.models import ModelConfig, PooledReadout, StepReadout, build_recurrent
from grukit.models.recurrent import recurrent_parameters
from grukit.train.checkpoint import load_weights, read_checkpoint, restore
from grukit.train.config import TrainConfig
from grukit.train.plots import plot_learning_curves
from grukit.train.trainer import Trainer, mean_loss

EVAL_BATCH = 16
SPLITS = ("train", "valid", "test")


def task_module(name: str) -> ModuleType:
    """The module of task ``name``; its data package is imported only now."""
    from grukit.tasks import TASKS

    if name not in TASKS:
        raise ValueError(f"task: got {name!r}, wanted one of {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def build_model(task, config: ModelConfig) -> nn.Module:
    """The task's head on the recurrent layer ``config`` names; a task of token ids (one
    with a ``vocabulary_size``) gets an embedding of width ``input_size`` in front."""
    recurrent = build_recurrent(config, task.input_size)
    embedding = None
    if getattr(task, "vocabulary_size", None):
        embedding = nn.Embedding(task.vocabulary_size, task.input_size, padding_idx=0)
    if task.head == "step":
        return StepReadout(recurrent, task.outputs, config.dropout, embedding)
    return PooledReadout(recurrent, task.outputs, config.pooling, config.dropout, embedding)


def score(model: nn.Module, task, split: str) -> dict:
    """The loss and the task's further metrics of ``model`` on ``split``."""
    return {task.metric: mean_loss(model, task, split, EVAL_BATCH), **task.scores(model, split)}


def train_task(
    task_name: str,
    data,
    model_config: ModelConfig,
    train: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    log=None,
) -> dict:
    """Train, keep the best checkpoint by validation loss, score it on every split; write
    ``result.json`` and ``curves.png`` into ``out_dir`` and return the result:
    ``{"{split}_{metric}": ..., "recurrent_parameters", "seconds_per_epoch", ...}``."""
    out_dir = Path(out_dir)
    task = task_module(task_name).make_task(data)
    torch.manual_seed(train.seed)
    model = build_model(task, model_config)
    # A warm start; a resumed run goes on from its own weights instead.
    if train.init_from and not (resume and (out_dir / "last").exists()):
        load_weights(train.init_from, model, asdict(model_config))
    if isinstance(model.recurrent, GRU):
        model.recurrent.backend_choice()  # builds the kernels now, not in the first epoch
    run_config = {
        "task": task_name,
        "data": asdict(data),
        "model": asdict(model_config),
        "train": asdict(train),
    }
    trainer = Trainer(model, task, train, out_dir, run_config=run_config, log=log)
    started = time.perf_counter()
    progress = trainer.fit(resume=resume)
    tensors, state = read_checkpoint(out_dir / "best")
    restore(tensors, state, model)
    history = progress["history"]
    result = {
        "task": task_name,
        "data": task.title,
        "model": model_config.model,
        "recurrent_parameters": recurrent_parameters(model),
        "hidden": model_config.hidden,
        "epochs": progress["epoch"],
        "best_epoch": progress["best_epoch"],
        "metric": task.metric,
    }
    for split in SPLITS:
        result.update(
            {f"{split}_{name}": value for name, value in score(model, task, split).items()}
        )
    result.update(
        seconds_per_epoch=sum(line["seconds"] for line in history) / len(history),
        backend=model.recurrent.backend_choice().name
        if isinstance(model.recurrent, GRU)
        else "torch",
        wall_seconds=time.perf_counter() - started,
    )
    if hasattr(task, "report"):
        result.update(task.report(model, out_dir))
    (out_dir / "result.json").write_text(json.dumps(result, indent=1))
    plot_learning_curves(
        {model_config.model: history},
        out_dir / "curves.png",
        f"{model_config.model} on {task.title}",
        ylabel=task.metric_label,
    )
    return result


def load_checkpoint_model(path: str | Path):
    """(task, model, checkpoint state) rebuilt from a checkpoint folder's saved config."""
    tensors, state = read_checkpoint(path)
    config = state.get("config", {})
    if not isinstance(config, dict) or not {"task", "data", "model"} <= set(config):
        raise ValueError(
            f"checkpoint: {str(path)!r} has no task, data and model config (written by "
            "something else, or an older grukit)"
        )
    module = task_module(config["task"])
    task = module.make_task(module.DataConfig(**config["data"]))
    model = build_model(task, ModelConfig(**config["model"]))
    restore(tensors, state, model)
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
