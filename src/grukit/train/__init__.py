"""Model-agnostic training: the trainer's options, the loop (optimiser, schedule, early
stopping, threads), versioned checkpoints, progress and plots. Imports nothing from
models/ or tasks/: a task and a model are handed to it. Its modules are imported on first
use (reading a checkpoint, ``grukit.train.checkpoint``, needs no torch)."""

from grukit.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CheckpointError": "grukit.train.checkpoint",
        "read_checkpoint": "grukit.train.checkpoint",
        "restore": "grukit.train.checkpoint",
        "save_checkpoint": "grukit.train.checkpoint",
        "TrainConfig": "grukit.train.config",
        "Progress": "grukit.train.trainer",
        "RunMismatch": "grukit.train.trainer",
        "Task": "grukit.train.trainer",
        "Trainer": "grukit.train.trainer",
    },
)

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
