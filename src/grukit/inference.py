"""Predictions on new data from a checkpoint alone: ``grukit.load(checkpoint)`` rebuilds the
task-free model (its ModelConfig and shape are saved with it) and the preprocessing that
turns raw data into its inputs (feature scaler, vocabulary, class names), never reading
the training data.

>>> predictor = grukit.load("runs/japanese-vowels-ligru-64/best")
>>> predictor.predict([frames_1, frames_2])       # [(T_i, F) raw frames] -> classes
{"class": [...], "label": [...], "probabilities": (N, C)}

Kinds of checkpoint (``preprocessing["kind"]``):

- ``sequences``: a sequence classifier of feature frames (spoken digits, vowels, your own
  file); input: raw (T_i, F) arrays, standardised as in training;
- ``text``: a text classifier (sentiment); input: strings;
- ``series``: a forecaster; input: the recent raw values of the series (at least window +
  anchor of them), output: the next ``horizon`` values.
- ``lm``: a language model (its vocabulary and unit); it samples text instead, through
  ``grukit.generation`` (``grukit generate``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from grukit.data.batching import pad_sequences
from grukit.data.scaling import StandardScaler
from grukit.data.series import anchored_features, seasonal_naive
from grukit.data.text import Vocabulary, pad_ids, tokenize
from grukit.models import ModelConfig, build_model
from grukit.train.checkpoint import CheckpointError, read_checkpoint, restore

BATCH = 256


class Predictor:
    """A trained model with its preprocessing; ``predict`` takes raw data of its kind."""

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        self.model = model.eval()
        self.preprocessing = preprocessing
        self.config = config
        self.kind = preprocessing.get("kind")
        self.class_names = preprocessing.get("class_names")
        self.scaler = (
            StandardScaler.from_dict(preprocessing["scaler"]) if "scaler" in preprocessing else None
        )
        self.vocabulary = (
            Vocabulary.from_dict(preprocessing["vocabulary"])
            if "vocabulary" in preprocessing
            else None
        )

    def predict(self, inputs) -> dict:
        """Predictions for raw ``inputs`` of this checkpoint's kind (module doc)."""
        if self.kind == "sequences":
            return self.classify_sequences(inputs)
        if self.kind == "text":
            return self.classify_texts(inputs)
        if self.kind == "series":
            return self.forecast(inputs)
        if self.config.get("task") == "lm":
            raise ValueError(
                "predict: this checkpoint is a language model; grukit generate (or "
                "grukit.generation.load_generator) samples text from it"
            )
        raise ValueError(
            f"predict: this checkpoint's task ({self.config.get('task')}) offers no prediction "
            "on new data; grukit eval scores it on its own splits"
        )

    @torch.no_grad()
    def _classify(self, batches) -> dict:
        logits = torch.cat([self.model(inputs, lengths)[0] for inputs, lengths in batches])
        probabilities = torch.softmax(logits.double(), -1).numpy()
        classes = probabilities.argmax(-1)
        return {
            "class": classes.tolist(),
            "label": [self.class_names[c] for c in classes],
            "probabilities": probabilities,
        }

    def classify_sequences(self, sequences: list[np.ndarray]) -> dict:
        """[(T_i, F) raw frames] -> {"class", "label", "probabilities" (N, C)}."""
        features = self.model.recurrent.input_size
        for index, sequence in enumerate(sequences):
            shape = np.shape(sequence)
            if len(shape) != 2 or shape[1] != features or shape[0] < 1:
                raise ValueError(
                    f"data: sequence {index} has shape {shape}, wanted (frames >= 1, "
                    f"{features} features) as in training"
                )
        scaled = self.scaler.transform_sequences(sequences)
        return self._classify(
            pad_sequences(scaled[i : i + BATCH]) for i in range(0, len(scaled), BATCH)
        )

    def classify_texts(self, texts: list[str]) -> dict:
        """[text] -> {"class", "label", "probabilities" (N, C)}."""
        ids = [self.vocabulary.encode(tokenize(text)) for text in texts]
        return self._classify(pad_ids(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH))

    @torch.no_grad()
    def forecast(self, values: np.ndarray) -> dict:
        """The next ``horizon`` values after the raw ``values`` (N,): {"forecast" (h,)}."""
        window, horizon, anchor = (self.preprocessing[k] for k in ("window", "horizon", "anchor"))
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) < window + anchor or not np.isfinite(values).all():
            raise ValueError(
                f"data: got {values.shape[0] if values.ndim == 1 else values.shape} values, "
                f"wanted at least {window + anchor} finite ones (window {window} + anchor "
                f"{anchor}) in one column"
            )
        scaled = self.scaler.transform(values).astype(np.float32)
        window_features = anchored_features(scaled, anchor)[-window:]  # (w, F), as in training
        inputs = torch.from_numpy(window_features[:, None, :].copy())  # (w, 1, F)
        offsets = self.model(inputs, torch.tensor([window]))[0][0].double().numpy()
        if anchor:  # outputs are offsets from the values one season earlier
            offsets = offsets + seasonal_naive(scaled, [len(scaled)], horizon, anchor)[0]
        return {"forecast": self.scaler.inverse(offsets)}


def load(path: str | Path) -> Predictor:
    """The model and preprocessing of a checkpoint folder (a run's ``best/`` or ``last/``)."""
    tensors, state = read_checkpoint(path, prefix="model.")  # not the optimizer's state
    extra = state.get("extra") or {}
    config = state.get("config", {})
    if "model_shape" not in extra or "model" not in config:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} was written before grukit saved what prediction needs "
            "(model shape, preprocessing); grukit eval still scores it, or train it again"
        )
    model = build_model(ModelConfig(**config["model"]), **extra["model_shape"])
    restore(tensors, state, model)
    return Predictor(model, extra.get("preprocessing", {}), config)
