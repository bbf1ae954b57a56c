"""Model-agnostic training: the trainer's options, the loop (optimiser, schedule, early
stopping, threads), versioned checkpoints, progress and plots. Imports nothing from
models/ or tasks/: a task and a model are handed to it."""

from grukit.train.checkpoint import CheckpointError, read_checkpoint, restore, save_checkpoint
from grukit.train.config import TrainConfig
from grukit.train.trainer import Progress, RunMismatch, Task, Trainer

__all__ = [
    "CheckpointError",
    "Progress",
    "RunMismatch",
    "Task",
    "TrainConfig",
    "Trainer",
    "read_checkpoint",
    "restore",
    "save_checkpoint",
]
