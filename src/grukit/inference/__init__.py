"""The inference wing: from a checkpoint to predictions on new data, without the trainer.

- ``registry``: checkpoint kinds -> predictors; :func:`load` (``grukit.load``) returns
  the predictor a checkpoint's kind names, and the commands that read checkpoints
  (``grukit predict``, ``grukit generate``) dispatch through it;
- ``base``: the :class:`Predictor` protocol; ``predictors``: the classifiers and the
  forecaster;
- ``generation``: :class:`TextGenerator`, text from a language model, token by token;
- ``sampling``: :class:`GenerationConfig` and how each next token is chosen;
- ``numpy_engine``: a language model stepped in NumPy, without torch.

Imports nothing from ``grukit.train``, ``grukit.tasks``, ``grukit.run`` or ``grukit.cli``
(tested); its modules are imported on first use, so ``grukit generate`` of a NumPy model
never imports torch.
"""

from grukit.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "KINDS": "grukit.inference.registry",
        "SavedCheckpoint": "grukit.inference.registry",
        "load": "grukit.inference.registry",
        "register": "grukit.inference.registry",
        "Predictor": "grukit.inference.base",
        "TextGenerator": "grukit.inference.generation",
        "GenerationConfig": "grukit.inference.sampling",
    },
)

__all__ = [
    "KINDS",
    "GenerationConfig",
    "Predictor",
    "SavedCheckpoint",
    "TextGenerator",
    "load",
    "register",
]
