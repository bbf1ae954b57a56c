"""Training a run: the task and model its options name, the trainer, and the result
(``result.json``, ``curves.png``) scored on every split from the best checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import nn

from grukit.checkpoint import CheckpointError, load_weights, read_checkpoint, restore
from grukit.config import read_config_file
from grukit.kernels.dispatch import bf16_support
from grukit.layers import GRU
from grukit.models import ModelConfig
from grukit.models.recurrent import recurrent_parameters
from grukit.run.evaluation import score
from grukit.run.options import RunConfig, configure, holds_run, make_task, saved_run_options
from grukit.tasks.base import Task
from grukit.train.plots import plot_learning_curves
from grukit.train.trainer import Trainer


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
    extra = {"model_shape": task.model_shape(run.model), "preprocessing": task.preprocessing()}
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
    ``resume=True`` with only ``out`` continues that run with its saved options; with a
    task named it continues the run in ``out`` or starts it there (so a script may run
    again); with neither a run in ``out`` nor a task, FileNotFoundError. Returns the
    result (what result.json holds).

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
    if resume and task is None and config is None and not (out and holds_run(out)):
        # --resume alone names nothing to start: not the default task in its place
        raise FileNotFoundError(
            f"resume: {str(out or 'the default run folder')!r} holds no run to resume; name "
            "a task (--task, --config) to start one there"
        )
    run = configure(task, config=config, out=out, **options)
    return run_training(run, resume=resume, log=log)
