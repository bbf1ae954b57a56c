"""A model-agnostic training loop: optimizers, gradient clipping, weight noise, learning-rate
schedule, early stopping on validation, best and last checkpoints, metrics as JSON lines,
and ``resume`` that continues a killed run with the same losses as an uninterrupted one.

A task supplies the data and the loss (see :class:`Task`); the trainer knows nothing else.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from grukit.checkpoint import (
    check_resumable,
    read_checkpoint,
    restore,
    save_checkpoint,
    settle_checkpoint,
)
from grukit.train.config import TrainConfig
from grukit.train.progress import EpochProgress, format_duration, format_scores
from grukit.train.threads import choose_threads

RUN_CONFIG = "config.json"


class Task(Protocol):
    """What the trainer needs from a task (``grukit.tasks.base.Task`` is the whole
    protocol)."""

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Any]:
        """The batches of a split, in an order fixed by ``seed``."""

    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        """(sum of the per-element losses, number of elements) of one batch."""

    # Optional: ``scores_from_loss(loss) -> dict``, the scores that are functions of a mean
    # loss (bits per character, perplexity), shown beside the loss in the log.


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` ("cpu", "cuda", "cuda:N"); ValueError where it is not
    there, saying what torch sees."""
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.index is not None and device.index >= count or count == 0:
            build = f"torch {torch.__version__}" + (
                "" if torch.version.cuda else ", a CPU-only build"
            )
            raise ValueError(
                f"device: got {name!r}, but torch sees {count} CUDA device(s) here ({build})"
            )
    return device


def mean_loss(model: nn.Module, task: Task, split: str, batch_size: int) -> float:
    """Mean loss per element over a split, in eval mode, batches in order."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in task.batches(split, batch_size, shuffle=False, seed=0, bucket=False):
            batch_total, batch_count = task.loss(model, batch)
            total += float(batch_total)
            count += batch_count
    if count == 0:
        raise ValueError(f"{split}: the split holds nothing to score")
    return total / count


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on the matrices only (parameters of 2 or more dimensions: weights and
    embeddings), never on biases, norm gains or chrono-initialised gate biases, whose
    values mean something at any size (as nanoGPT's ``configure_optimizers``). Without
    decay, one group of every parameter."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not weight_decay:
        return [{"params": parameters, "weight_decay": 0.0}]
    return [
        {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adam(groups, lr=config.lr)


def learning_rate(config: TrainConfig, done: float, plateau_halvings: int) -> float:
    """The learning rate ``done`` (the fraction of the run behind, in [0, 1]) into a run:
    constant; halved per plateau; cosine ``lr (1 + cos(pi done)) / 2`` or linear
    ``lr (1 - done)`` to 0."""
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * done))
    if config.lr_schedule == "linear":
        return config.lr * (1 - done)
    if config.lr_schedule == "plateau":
        return config.lr * 0.5**plateau_halvings
    return config.lr


# Options a resumed run may be given anew: when to stop, where a fresh run's weights came
# from (a resumed run starts from its own last checkpoint), the thread count (speed only)
# and where the run folder is.
RESUME_FREE_OPTIONS = ("epochs", "patience", "init_from", "threads", "out", "max_minutes")


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint (``to_dict``)."""

    epoch: int = 0  # epochs done
    best_valid: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the best
    halvings: int = 0  # plateau halvings of the learning rate so far
    history: list[dict] = field(default_factory=list)  # one metrics line per epoch
    stopped_early: bool = False  # a record for readers
    out_of_time: bool = False  # the last run stopped at --max-minutes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Progress:
        return cls(**values)


class TrainingDiverged(ValueError):
    """A loss became NaN or infinite; the checkpoints hold the epoch before."""


class RunMismatch(ValueError):
    """A run folder holds a run started with other options than the ones given now."""


def changed_options(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """The options (dotted names) whose values differ between two run configs, except
    ``RESUME_FREE_OPTIONS``: a resumed run may be given more epochs or patience. Options
    the saved run does not name came to grukit after it began, and it ran with their
    defaults: they are not compared."""
    changed = []
    for key in sorted(saved):
        name = prefix + key
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += changed_options(old, new, name + ".")
        elif key not in RESUME_FREE_OPTIONS and old != new and not same_file(old, new):
            changed.append(f"{name}: {old!r} then {new!r}")
    return changed


def same_file(old, new) -> bool:
    """Whether a path saved relative (by an older grukit) names the file now saved
    absolute: the same option, not a changed one."""
    if not (isinstance(old, str) and isinstance(new, str) and old and new):
        return False
    return (
        not Path(old).is_absolute() and Path(new).is_absolute() and Path(old).resolve() == Path(new)
    )


class Trainer:
    """Train ``model`` on ``task`` with ``config``, writing into ``out_dir``:
    ``config.json`` (``run_config``), ``metrics.jsonl`` (one line per epoch), ``best/`` and
    ``last/`` checkpoints, which keep ``run_config`` and ``checkpoint_extra`` beside the
    weights.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        config: TrainConfig,
        out_dir: str | Path,
        *,
        run_config: dict | None = None,
        checkpoint_extra: dict | None = None,
        log=None,
    ) -> None:
        self.model = model
        self.task = task
        self.config = config
        self.out_dir = Path(out_dir)
        self.run_config = run_config if run_config is not None else {"train": asdict(config)}
        self.checkpoint_extra = checkpoint_extra or {}
        self.log = sys.stderr if log is None else log  # looked up now: tests swap stderr
        self.model.to(resolve_device(config.device))
        self.optimizer = make_optimizer(config, model)
        self.threads = torch.get_num_threads()
        self.deadline: float | None = None  # time.monotonic() at --max-minutes, set by fit
        self.partial_epoch = False  # the last epoch stopped at the deadline
        self.halvings = 0  # the plateau schedule's, of the epoch under way

    def evaluate(self, split: str) -> float:
        """Mean loss per element over a split."""
        return mean_loss(self.model, self.task, split, self.config.batch_size)

    def _train_epoch(self, epoch: int) -> float:
        config = self.config
        self.model.train()
        total, count = 0.0, 0
        batches = list(
            self.task.batches(
                "train",
                config.batch_size,
                shuffle=True,
                seed=config.seed * 100_003 + epoch,
                bucket=config.bucket,
            )
        )
        progress = EpochProgress(
            self.log, epoch + 1, config.epochs, len(batches), scores=self.scores_from_loss
        )
        for index, batch in enumerate(batches):
            if index and self._out_of_time():  # (at least one batch: a loss to report)
                self.partial_epoch = True
                break
            if index and config.lr_schedule in ("cosine", "linear"):
                self._set_learning_rate(epoch, index / len(batches))
            noise = self._add_weight_noise() if config.weight_noise else None
            with self._autocast():
                batch_total, batch_count = self.task.loss(self.model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            (batch_total / batch_count).backward()
            if noise is not None:
                self._remove_weight_noise(noise)
            if config.clip_norm:
                nn.utils.clip_grad_norm_(self.model.parameters(), config.clip_norm)
            self.optimizer.step()
            total += float(batch_total.detach())
            count += batch_count
            progress.update(index + 1, total / count)
        progress.close()
        return total / count

    def scores_from_loss(self, loss: float) -> dict[str, float]:
        """The task's scores derived from a mean loss, e.g. {"bpc": loss / ln 2} for a
        character-level language model; {} for a task that derives none."""
        derive = getattr(self.task, "scores_from_loss", None)
        return derive(loss) if derive is not None else {}

    def _set_learning_rate(self, epoch: int, through_epoch: float) -> float:
        """Set (and return) the rate ``through_epoch`` (a fraction) into ``epoch``: the run
        is as far done as the further of its epochs and its --max-minutes budget say."""
        done = (epoch + through_epoch) / self.config.epochs
        if self.deadline is not None:
            left = (self.deadline - time.monotonic()) / (60 * self.config.max_minutes)
            done = max(done, 1 - left)
        lr = learning_rate(self.config, min(max(done, 0.0), 1.0), self.halvings)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _time_left(self, epoch_wall: float, epoch: int) -> float:
        """At most: the epochs still to run at this epoch's pace, or --max-minutes' rest."""
        left = epoch_wall * (self.config.epochs - epoch - 1)
        if self.deadline is not None:
            left = min(left, max(0.0, self.deadline - time.monotonic()))
        return left

    def _out_of_time(self) -> bool:
        """Whether this run has used up --max-minutes."""
        return self.deadline is not None and time.monotonic() > self.deadline

    def _autocast(self):
        """torch.autocast with bfloat16 for a training step under ``precision="bf16"``."""
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16, enabled=self.config.precision == "bf16")

    def _add_weight_noise(self) -> list[Tensor]:
        noise = []
        with torch.no_grad():
            for parameter in self.model.parameters():
                sample = torch.randn_like(parameter) * self.config.weight_noise
                parameter.add_(sample)
                noise.append(sample)
        return noise

    def _remove_weight_noise(self, noise: list[Tensor]) -> None:
        with torch.no_grad():
            for parameter, sample in zip(self.model.parameters(), noise):
                parameter.sub_(sample)

    def stopped_early(self, progress: Progress) -> bool:
        """Whether validation has not improved for ``patience`` epochs, under the patience
        given now: a resumed run may be given more of it and then goes on."""
        return bool(self.config.patience and progress.bad_epochs >= self.config.patience)

    def fit(self, resume: bool = False) -> Progress:
        """Train until the epochs run out or validation stops improving; return the
        progress. The run's config goes into ``config.json`` in the run folder."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        progress = Progress()
        last = self.out_dir / "last"
        settle_checkpoint(last)  # a save killed half-way leaves last/ aside: put it back
        settle_checkpoint(self.out_dir / "best")
        if last.exists() and not resume:
            raise ValueError(
                f"out: {str(self.out_dir)!r} already holds a run; resume continues it, "
                "or pick another folder"
            )
        if resume and last.exists():
            tensors, state = read_checkpoint(last)
            check_resumable(tensors, state, last)
            changed = changed_options(state.get("config", {}), self.run_config)
            if changed:
                raise RunMismatch(
                    f"resume: the run in {str(self.out_dir)!r} was started with other options "
                    f"({', '.join(changed)}); only epochs, patience and threads may change on "
                    "resume (and the folder may move)"
                )
            groups = len(state.get("optimizer", {}).get("param_groups", []))
            if groups != len(self.optimizer.param_groups):
                raise RunMismatch(
                    f"resume: the run in {str(self.out_dir)!r} saved an optimizer of {groups} "
                    f"parameter group(s), this grukit makes {len(self.optimizer.param_groups)} "
                    "(weight decay now skips biases and norm gains): finish it with the grukit "
                    "that started it, or start a new run"
                )
            progress = Progress.from_dict(
                restore(tensors, state, self.model, self.optimizer, restore_rng=True)
            )
            finished = self.stopped_early(progress) or progress.epoch >= self.config.epochs
            print(
                f"{self.out_dir}: "
                + ("finished earlier, reused" if finished else "resuming")
                + f" after epoch {progress.epoch}",
                file=self.log,
            )
        else:
            torch.manual_seed(self.config.seed)
        (self.out_dir / RUN_CONFIG).write_text(json.dumps(self.run_config, indent=1) + "\n")
        self.threads = choose_threads(self.config.threads, self.log)
        torch.set_num_threads(self.threads)
        metrics = self.out_dir / "metrics.jsonl"
        # Keep the lines of the epochs the checkpoint holds, drop any written after it.
        metrics.write_text("".join(json.dumps(line) + "\n" for line in progress.history))
        config = self.config
        self.deadline = None
        used = sum(line.get("wall", line["seconds"]) for line in progress.history)
        if config.max_minutes:  # a budget for the whole run: a resumed run has used some
            self.deadline = time.monotonic() + 60 * config.max_minutes - used
        progress.out_of_time = bool(config.max_minutes) and used >= 60 * config.max_minutes
        if progress.out_of_time and progress.epoch < config.epochs:
            print(
                f"{self.out_dir}: --max-minutes {config.max_minutes:g} already used by its "
                f"{progress.epoch} epoch{'s' if progress.epoch != 1 else ''} "
                f"({format_duration(used)}); give a larger budget to go on",
                file=self.log,
            )
        for epoch in range(progress.epoch, config.epochs):
            if self.stopped_early(progress) or progress.out_of_time:
                break
            self.partial_epoch = False
            self.halvings = progress.halvings
            lr = self._set_learning_rate(epoch, 0.0)
            started = time.perf_counter()
            train = self._train_epoch(epoch)
            seconds = time.perf_counter() - started
            valid = self.evaluate("valid")
            if not (math.isfinite(train) and math.isfinite(valid)):
                raise TrainingDiverged(
                    f"epoch {epoch + 1}: the training loss is {train} and the validation loss "
                    f"{valid}: the model diverged (try a lower --lr, or --clip-norm) or the "
                    f"data holds values too large; the run's checkpoints hold epoch "
                    f"{progress.epoch}"
                )
            epoch_wall = time.perf_counter() - started
            line = {
                "epoch": epoch + 1,
                "train": train,
                "valid": valid,
                "lr": lr,
                "seconds": seconds,
                "wall": epoch_wall,  # with the validation pass: what --max-minutes counts
            }
            if self.partial_epoch:  # stopped at --max-minutes part of the way through
                line["partial"] = True
            progress.out_of_time = self._out_of_time()
            progress.history.append(line)
            with metrics.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
            improved = progress.best_valid is None or valid < progress.best_valid
            if improved:
                progress.best_valid, progress.best_epoch, progress.bad_epochs = valid, epoch + 1, 0
            else:
                progress.bad_epochs += 1
                if (
                    config.lr_schedule == "plateau"
                    and progress.bad_epochs % config.plateau_epochs == 0
                ):
                    progress.halvings += 1
            progress.epoch = epoch + 1
            progress.stopped_early = self.stopped_early(progress)
            for name in ("best", "last") if improved else ("last",):
                save_checkpoint(
                    self.out_dir / name,
                    self.model,
                    self.optimizer,
                    progress.to_dict(),
                    self.run_config,
                    self.checkpoint_extra,
                )
            print(
                f"epoch {epoch + 1}/{config.epochs}  "
                f"train {train:.4f}{format_scores(self.scores_from_loss(train))}  "
                f"valid {valid:.4f}{format_scores(self.scores_from_loss(valid))}  "
                f"lr {lr:.2e}  {seconds:.1f} s"
                + (
                    ""
                    if progress.out_of_time
                    else f"  <= {format_duration(self._time_left(epoch_wall, epoch))} left"
                )
                + ("  (best)" if improved else "")
                + (
                    f"  (stopped: --max-minutes {config.max_minutes:g} reached"
                    + (", part of the epoch" if self.partial_epoch else "")
                    + ")"
                    if progress.out_of_time
                    else ""
                ),
                file=self.log,
                flush=True,
            )
        return progress
