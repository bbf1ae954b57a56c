"""Runs: the layer between the command line and the tasks. ``options`` resolves a run's
options and its folder (and what a folder holds to resume), ``training`` trains it and
writes its result, ``evaluation`` scores models and checkpoints. The one way back from a
checkpoint to its model is ``grukit.models.load_model``, used here and by the inference
wing alike."""

from grukit.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "RunConfig": "grukit.run.options",
        "configure": "grukit.run.options",
        "task_class": "grukit.run.options",
        "run_training": "grukit.run.training",
        "train_task": "grukit.run.training",
        "evaluate_checkpoint": "grukit.run.evaluation",
        "load_checkpoint_model": "grukit.run.evaluation",
        "score": "grukit.run.evaluation",
    },
)

__all__ = [
    "RunConfig",
    "configure",
    "evaluate_checkpoint",
    "load_checkpoint_model",
    "run_training",
    "score",
    "task_class",
    "train_task",
]
