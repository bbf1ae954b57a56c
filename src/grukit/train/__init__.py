"""Model-agnostic training: the trainer's options, the loop (optimiser, schedule, early
stopping, threads), progress and plots; checkpoints are written through
``grukit.checkpoint``, a low module that the inference wing reads too. Imports nothing
from models/ or tasks/: a task and a model are handed to it. Its modules are imported on
first use."""

from grukit.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TrainConfig": "grukit.train.config",
        "Progress": "grukit.train.trainer",
        "RunMismatch": "grukit.train.trainer",
        "Task": "grukit.train.trainer",
        "Trainer": "grukit.train.trainer",
    },
)

__all__ = [
    "Progress",
    "RunMismatch",
    "Task",
    "TrainConfig",
    "Trainer",
]
