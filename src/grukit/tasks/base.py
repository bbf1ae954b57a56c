"""The task protocol: what a task gives the trainer, the run layer and the command line.

A task is a class derived from :class:`Task`, registered by name in ``grukit.tasks.TASKS``
("name": "module:Class"; the module is imported only when the task is used, so a task's
optional data package is needed only by that task). The class declares

- ``Data``: a dataclass of its data options (fields made with ``grukit.config.option``,
  each with its help) with a ``title`` property: the data's name in folders and plots
  (e.g. "jsb", "adding-T600"). ``from_config(data)`` makes the task from one;
- ``model_defaults`` / ``train_defaults``: its defaults for ``ModelConfig`` /
  ``TrainConfig`` options (e.g. the paper's model size);
- ``metric`` (the loss's short name, e.g. "nll") and ``metric_label`` (its axis label);
  ``plot_log_scale`` and ``trivial_loss`` for the learning-curve plot;

and an instance has ``title``, ``input_size`` (features per step; a task of token ids
sets ``vocabulary_size`` instead) and ``outputs``, and

- ``batches(split, batch_size, *, shuffle, seed, bucket)``: the batches of "train",
  "valid" or "test", in an order fixed by ``seed``; each a ``grukit.data.batching.Batch``
  (inputs (T, B, I) or token ids (T, B), targets, lengths (B,), and target lengths where
  the targets are sequences of their own length); an (inputs, targets, lengths) tuple is
  read as one;
- ``criterion(outputs, targets, lengths) -> (sum, count)``: the summed loss of a batch
  and the number of elements it sums over (the trainer minimises sum / count); the
  shared ``loss(model, batch)`` runs the model and calls it;
- ``model_shape(model_config) -> dict``: the arguments ``grukit.models.build_model``
  takes besides the ModelConfig (inputs, outputs, ``head`` "step" or "pooled",
  ``causal``, ``vocabulary_size``), saved with every checkpoint; ``build_model`` (not to
  be overridden) builds the model from them, so that training and every reader of a
  checkpoint build it one way. The model follows ``forward(inputs, lengths, state) ->
  (outputs, state)``;
- ``scores(model, split) -> dict``: further metrics (accuracy, errors in the data's
  units); default none; ``scores_from_loss(loss) -> dict``: metrics that are functions of
  the split's mean loss (perplexity), without another pass over it; default none;
- ``baselines() -> [Baseline]``: what the model is measured against on the test split
  (logistic regression, ARIMA, ...), each ``{"name": ..., "scores": {"test_...": ...},
  "settings": {...}}``;
  default none;
- ``preprocessing() -> dict``: what prediction on new raw data needs (a scaler, a
  vocabulary, class names), saved with every checkpoint; default none;
- ``report(model, out_dir) -> dict``: the task's own pictures (a confusion matrix, a
  forecast plot) written into the run folder; what it returns goes into result.json.

The shortest complete task is the README's "add your own task" example
(``tests/tasks/test_own_task.py`` runs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, TypedDict

import torch
from torch import Tensor, nn

from grukit.data.batching import Batch

SPLITS = ("train", "valid", "test")


def model_device(model: nn.Module) -> torch.device:
    """Where a model's parameters are (the CPU for one without any)."""
    return next(model.parameters(), torch.empty(0)).device


class Baseline(TypedDict):
    """A baseline's result: its name, its scores (keys ``test_<score>``) and the settings
    it was run with (e.g. a regularisation chosen on the validation split)."""

    name: str
    scores: dict[str, float]
    settings: dict


class Task:
    """Base class of every task: the shared defaults of the protocol above."""

    Data: ClassVar[type]
    model_defaults: ClassVar[dict] = {}
    train_defaults: ClassVar[dict] = {}
    metric: ClassVar[str] = "loss"
    metric_label: ClassVar[str] = "loss"
    head: ClassVar[str] = "pooled"
    causal: ClassVar[bool] = True  # step heads: outputs may depend only on steps so far
    plot_log_scale: ClassVar[bool] = False
    # The splits a finished run scores its best checkpoint on (result.json).
    result_splits: ClassVar[tuple[str, ...]] = SPLITS
    token_inputs: ClassVar[bool] = False  # inputs are token ids (an embedding reads them)
    vocabulary_size: int | None = None  # token-id inputs: the embedding's rows
    title: str
    input_size: int
    outputs: int

    @property
    def trivial_loss(self) -> float | None:
        """A loss drawn as a line in the learning curves (what a model that learnt nothing
        scores), or None."""
        return None

    @classmethod
    def ignored_model_options(cls) -> tuple[str, ...]:
        """ModelConfig options this task's model does not read (left out of its --help):
        pooling for a per-step model, bidirectional where it predicts later steps, the
        embedding's options without token inputs, a language model's options elsewhere."""
        from grukit.models.recurrent import LANGUAGE_MODEL_OPTIONS, TOKEN_OPTIONS

        ignored = () if cls.token_inputs else TOKEN_OPTIONS
        if not (cls.token_inputs and cls.head == "step"):
            ignored += LANGUAGE_MODEL_OPTIONS
        if cls.head != "step":
            return ignored
        return (*ignored, "pooling", "bidirectional") if cls.causal else (*ignored, "pooling")

    @classmethod
    def from_config(cls, data) -> Task:
        """The task with the data options ``data`` (an instance of ``cls.Data``)."""
        return cls(data)

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        raise NotImplementedError

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        """(sum of the per-element losses, number of elements) of one batch, on the
        model's device."""
        batch = Batch.of(batch).to(model_device(model))
        outputs, _ = model(batch.inputs, batch.lengths)
        return self.criterion(outputs, batch.targets, batch.lengths)

    def build_model(self, config) -> nn.Module:
        """The model ``config`` (a ``grukit.models.ModelConfig``) names, for this task:
        ``grukit.models.build_model`` with this task's ``model_shape``, the one function
        that also rebuilds it from a checkpoint."""
        from grukit.models import build_model

        return build_model(config, **self.model_shape(config))

    def scores(self, model: nn.Module, split: str) -> dict:
        return {}

    def scores_from_loss(self, loss: float) -> dict:
        return {}

    def baselines(self) -> list[Baseline]:
        return []

    def report(self, model: nn.Module, out_dir: Path) -> dict:
        return {}

    def preprocessing(self) -> dict:
        """What turns new raw data into this task's model inputs and its outputs into
        answers (a scaler, a vocabulary, class names; JSON-able), saved with every
        checkpoint for ``grukit.load`` and ``grukit predict``; {} = prediction on new data
        is not offered for this task. ``kind`` names the input format."""
        return {}

    def model_shape(self, config) -> dict:
        """What ``grukit.models.build_model`` needs besides the ModelConfig ``config`` to
        build this task's model without its data (saved with every checkpoint): inputs,
        outputs, head; for token ids the vocabulary and the embedding's size (``config``'s
        ``embedding``, 0 = its hidden size), and whether a language model's read-out is
        tied to it."""
        tokens = bool(self.vocabulary_size)
        shape = {
            "input_size": (config.embedding or config.hidden) if tokens else self.input_size,
            "outputs": self.outputs,
            "head": self.head,
            "vocabulary_size": self.vocabulary_size,
            "causal": self.causal,
        }
        if tokens and self.head == "step":
            shape["tie_readout"] = config.tie
        return shape

    def outputs_of(self, model: nn.Module, split: str, batch_size: int = 256) -> Iterator:
        """(outputs, targets, lengths) of every batch of a split, in order, in eval mode
        without gradients: what scores and predictions are computed from."""
        model.eval()
        device = model_device(model)
        with torch.no_grad():
            for batch in self.batches(split, batch_size, shuffle=False, seed=0, bucket=False):
                batch = Batch.of(batch)
                outputs = model(batch.inputs.to(device), batch.lengths.to(device))[0]
                yield outputs.cpu(), batch.targets, batch.lengths
