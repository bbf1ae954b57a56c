"""Model-agnostic training: config, loop, checkpoints."""

from grukit.train.checkpoint import CheckpointError, read_checkpoint, restore, save_checkpoint
from grukit.train.config import TrainConfig
from grukit.train.trainer import RunMismatch, Task, Trainer

__all__ = [
    "CheckpointError",
    "RunMismatch",
    "Task",
    "TrainConfig",
    "Trainer",
    "read_checkpoint",
    "restore",
    "save_checkpoint",
]
