"""Train any task, score a checkpoint: the part of a run every task shares (the task
protocol is ``grukit.tasks.base``).

A run folder holds ``config.json`` (the resolved options: rerun with ``--config``),
``metrics.jsonl``, ``best/`` and ``last/`` checkpoints, ``curves.png`` and
``result.json``.
"""

from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from grukit.config import build, read_config_file, unknown_keys
from grukit.kernels.dispatch import bf16_support
from grukit.layers import GRU
from grukit.models import ModelConfig
from grukit.models.recurrent import recurrent_parameters
from grukit.tasks.base import SPLITS, Task
from grukit.train.checkpoint import (
    CheckpointError,
    load_weights,
    read_checkpoint,
    restore,
    settle_checkpoint,
)
from grukit.train.config import TrainConfig
from grukit.train.plots import plot_learning_curves
from grukit.train.trainer import RUN_CONFIG, Trainer, mean_loss

EVAL_BATCH = 16
DEFAULT_TASK = "music"


def task_class(name: str) -> type[Task]:
    """The Task class registered as ``name``; its module (and data package) is imported
    only now."""
    from grukit.tasks import TASKS

    if name not in TASKS:
        raise ValueError(f"task: got {name!r}, wanted one of {', '.join(TASKS)}")
    if not isinstance(TASKS[name], str):
        return TASKS[name]
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def make_task(name: str, data) -> Task:
    """Task ``name`` with the data options ``data`` (its ``Data``)."""
    return task_class(name).from_config(data)


@dataclass
class RunConfig:
    """Everything a run is made from: the task's name, its data options, the model and the
    training options, and the run folder."""

    task: str
    data: object
    model: ModelConfig
    train: TrainConfig
    out: str

    def to_dict(self) -> dict:
        """The layout of config.json and of a checkpoint's saved config."""
        return {
            "task": self.task,
            "out": self.out,
            "data": asdict(self.data),
            "model": asdict(self.model),
            "train": asdict(self.train),
        }


def configure(
    task: str | None = None,
    *,
    config: str | Path | dict | None = None,
    out: str | Path | None = None,
    **options,
) -> RunConfig:
    """A RunConfig from the task's defaults, then ``config`` (a TOML/JSON file or a dict,
    flat or in [data]/[model]/[train] sections, which may name ``task`` and ``out``), then
    ``options`` (flat: ``hidden=64, lr=1e-3, dataset="jsb"``; None = unset). The run
    folder defaults to ``runs/<data title>-<model>-<hidden>``. Unknown options are refused
    by name."""
    values = read_config_file(config) if isinstance(config, str | Path) else dict(config or {})
    file_task, file_out = values.pop("task", None), values.pop("out", None)
    task = task or file_task or DEFAULT_TASK
    out = out or file_out
    cls = task_class(task)
    given = {key: value for key, value in options.items() if value is not None}
    unknown = unknown_keys({**values, **given}, cls.Data, ModelConfig, TrainConfig)
    if unknown:
        raise ValueError(
            f"options: unknown {', '.join(unknown)} for task {task!r} (see grukit train "
            f"--task {task} --help)"
        )
    data = build(cls.Data, values, given)
    model = build(ModelConfig, cls.model_defaults, values, given)
    train = build(TrainConfig, cls.train_defaults, values, given)
    out = str(out or f"runs/{data.title}-{model.model}-{model.hidden}")
    return RunConfig(task, data, model, train, out)


def holds_run(out: str | Path) -> bool:
    """Whether a folder holds a run (its options, or a checkpoint) that --resume can go on."""
    settle_checkpoint(Path(out) / "last")
    return (Path(out) / RUN_CONFIG).is_file() or (Path(out) / "last").exists()


def saved_run_options(out: str | Path) -> dict:
    """The options a run folder was started with (its config.json, or the config in its
    last checkpoint for runs older than config.json), as a flat dict with ``task``."""
    out = Path(out)
    if (out / RUN_CONFIG).is_file():
        saved = read_config_file(out / RUN_CONFIG, flat=False)
    elif (out / "last").exists():
        saved = read_checkpoint(out / "last")[1].get("config", {})
    else:
        raise FileNotFoundError(f"resume: {str(out)!r} holds no run to resume")
    if not isinstance(saved.get("task"), str):
        raise ValueError(f"resume: the run options in {str(out)!r} name no task")
    flat = {"task": saved["task"]}
    for section in ("data", "model", "train"):
        flat.update(saved.get(section, {}))
    return flat


def score(model: nn.Module, task: Task, split: str) -> dict:
    """The loss and the task's further metrics of ``model`` on ``split``."""
    loss = mean_loss(model, task, split, EVAL_BATCH)
    return {task.metric: loss, **task.scores_from_loss(loss), **task.scores(model, split)}


def build_task_model(task: Task, config: ModelConfig) -> nn.Module:
    """The task's model, with the fused kernels built now, not inside the first epoch."""
    model = task.build_model(config)
    recurrent = getattr(model, "recurrent", None)
    if isinstance(recurrent, GRU):
        recurrent.backend_choice()
    return model


def run_training(run: RunConfig, *, resume: bool = False, log=None) -> dict:
    """Train, keep the best checkpoint by validation loss, score it on every split; write
    ``config.json``, ``result.json`` and ``curves.png`` into the run folder and return the
    result: ``{"{split}_{metric}": ..., "recurrent_parameters", "seconds_per_epoch",
    "baselines": [...], ...}``."""
    out_dir = Path(run.out)
    if run.train.precision == "bf16" and run.train.device == "cpu":
        supported, reason = bf16_support()
        if not supported:
            raise ValueError(f"precision: got 'bf16', but {reason}; wanted fp32 here")
    task = make_task(run.task, run.data)
    torch.manual_seed(run.train.seed)
    model = build_task_model(task, run.model)
    # A warm start; a resumed run goes on from its own weights instead.
    if run.train.init_from and not (resume and (out_dir / "last").exists()):
        tensors, state = read_checkpoint(run.train.init_from)
        other = run.model.architecture_differences(state.get("config", {}).get("model", {}))
        if other:
            raise CheckpointError(
                f"init_from: {run.train.init_from!r} holds another kind of model: "
                + "; ".join(other)
            )
        load_weights(tensors, model, source=run.train.init_from)
    run_config = run.to_dict()
    extra = {"model_shape": task.model_shape(), "preprocessing": task.preprocessing()}
    trainer = Trainer(
        model, task, run.train, out_dir, run_config=run_config, checkpoint_extra=extra, log=log
    )
    started = time.perf_counter()
    progress = trainer.fit(resume=resume)
    tensors, state = read_checkpoint(out_dir / "best")
    restore(tensors, state, model)
    history = progress.history
    result = {
        "task": run.task,
        "out": str(out_dir),
        "data": task.title,
        "model": run.model.model,
        "recurrent_parameters": recurrent_parameters(model),
        "hidden": run.model.hidden,
        "epochs": progress.epoch,
        "best_epoch": progress.best_epoch,
        "metric": task.metric,
    }
    for split in task.result_splits:
        result.update(
            {f"{split}_{name}": value for name, value in score(model, task, split).items()}
        )
    recurrent = getattr(model, "recurrent", None)
    result.update(
        seconds_per_epoch=sum(line["seconds"] for line in history) / len(history),
        backend=recurrent.backend_choice().name if isinstance(recurrent, GRU) else "torch",
        threads=trainer.threads,
        wall_seconds=time.perf_counter() - started,
    )
    result.update(task.report(model, out_dir))
    result["baselines"] = task.baselines()
    (out_dir / "result.json").write_text(json.dumps(result, indent=1))
    plot_learning_curves(
        {run.model.model: history},
        out_dir / "curves.png",
        f"{run.model.model} on {task.title}",
        ylabel=task.metric_label,
        log_scale=task.plot_log_scale,
        reference=task.trivial_loss,
    )
    return result


def train_task(
    task: str | None = None,
    *,
    config: str | Path | dict | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    log=None,
    **options,
) -> dict:
    """Train a task from Python, as ``grukit train`` does: options as keywords (the
    command line's names with ``_``), a config file or dict, or both (keywords win).
    ``resume=True`` with only ``out`` continues that run with its saved options.
    Returns the result (what result.json holds).

    >>> result = grukit.train_task("vowels", hidden=32, epochs=5, out="runs/vowels-try")
    >>> result["test_accuracy"]
    """
    if resume and out is not None and holds_run(out):
        saved = saved_run_options(out)
        given = read_config_file(config) if isinstance(config, str | Path) else config or {}
        config = {**saved, **given}
        if task is not None and task != saved["task"]:
            raise ValueError(
                f"task: got {task!r}, but the run in {str(out)!r} is {saved['task']!r}"
            )
    run = configure(task, config=config, out=out, **options)
    return run_training(run, resume=resume, log=log)


def load_checkpoint_model(path: str | Path) -> tuple[Task, nn.Module, dict]:
    """(task, model, checkpoint state) rebuilt from a checkpoint folder's saved config."""
    tensors, state = read_checkpoint(path)
    config = state.get("config", {})
    if not isinstance(config, dict) or not {"task", "data", "model"} <= set(config):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} has no task, data and model config (written by "
            "something else, or an older grukit)"
        )
    cls = task_class(config["task"])
    task = cls.from_config(cls.Data(**config["data"]))
    model = task.build_model(ModelConfig(**config["model"]))
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
