"""A run's options and its folder: the task by name, the options resolved from the task's
defaults, a config file and keywords, and what a run folder holds to resume.

A run folder holds ``config.json`` (the resolved options: rerun with ``--config``),
``metrics.jsonl``, ``best/`` and ``last/`` checkpoints, ``curves.png`` and
``result.json``.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from pathlib import Path

from grukit.checkpoint import read_checkpoint, settle_checkpoint
from grukit.config import build, read_config_file, unknown_keys
from grukit.models import ModelConfig
from grukit.tasks.base import Task
from grukit.train.config import TrainConfig
from grukit.train.trainer import RUN_CONFIG

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
