"""The protocol every predictor follows (torch-free: a predictor that steps its model in
NumPy never imports torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar


class Predictor:
    """What every predictor offers (the registry, ``grukit.inference.registry``, makes
    one from a checkpoint by its kind):

    - ``commands``: the commands that serve it (the first is named when another is asked);
    - ``description``: what it is, in a few words ("sequence classifier");
    - ``from_checkpoint(checkpoint, **options)``: the predictor of a
      :class:`~grukit.inference.registry.SavedCheckpoint`;
    - ``predict(inputs) -> dict``: predictions for raw inputs of its kind;
    - ``read_inputs(path)``: the raw inputs a file holds (``grukit predict --data``);
    - ``rows(predictions) -> (header, rows)``: the predictions as a CSV table;
    - ``wants()``: one line saying what inputs it takes (``grukit predict CHECKPOINT``).
    """

    commands: ClassVar[tuple[str, ...]] = ("predict",)
    description: ClassVar[str] = "model"

    @classmethod
    def from_checkpoint(cls, checkpoint, **options) -> Predictor:
        raise NotImplementedError

    def predict(self, inputs) -> dict:
        raise NotImplementedError

    def read_inputs(self, path: Path) -> Any:
        raise NotImplementedError

    def rows(self, predictions: dict) -> tuple[list[str], list[list]]:
        raise NotImplementedError

    def wants(self) -> str:
        return self.description
