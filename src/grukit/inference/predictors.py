"""Predictions on new data from a checkpoint alone: the model (rebuilt as training built
it, ``grukit.models.load_model``) and the preprocessing that turns raw data into its
inputs (feature scaler, vocabulary, class names), never reading the training data.

>>> predictor = grukit.load("runs/japanese-vowels-ligru-64/best")
>>> predictor.predict([frames_1, frames_2])       # [(T_i, F) raw frames] -> classes
{"class": [...], "label": [...], "probabilities": (N, C)}

Every predictor follows :class:`grukit.inference.base.Predictor`; the kinds here
(``preprocessing["kind"]``):

- ``sequences``: :class:`SequenceClassifier`, feature frames (spoken digits, vowels, your
  own file); input: raw (T_i, F) arrays, standardised as in training;
- ``text``: :class:`TextClassifier` (sentiment); input: strings;
- ``series``: :class:`Forecaster`; input: the recent raw values of the series (at least
  window + anchor of them), output: the next ``horizon`` values;
- ``lm``: a language model samples text instead (``grukit.inference.generation``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from grukit.data.batching import pad_sequences
from grukit.data.scaling import StandardScaler
from grukit.data.series import anchored_features, read_values, seasonal_naive
from grukit.data.text import Vocabulary, pad_ids, read_texts, tokenize
from grukit.inference.base import Predictor

BATCH = 256


class TorchPredictor(Predictor):
    """A predictor over a torch model and the checkpoint's preprocessing dict."""

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        self.model = model.eval()
        self.preprocessing = preprocessing
        self.config = config

    @classmethod
    def from_checkpoint(cls, checkpoint, **options) -> TorchPredictor:
        if options:
            raise ValueError(f"options: a {cls.description} takes none, got {sorted(options)}")
        return cls(checkpoint.model(), checkpoint.preprocessing, checkpoint.config)


class Classifier(TorchPredictor):
    """Inputs -> a class each: {"class" [N], "label" [N], "probabilities" (N, C)}."""

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        super().__init__(model, preprocessing, config)
        self.class_names = preprocessing["class_names"]

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

    def rows(self, predictions: dict) -> tuple[list[str], list[list]]:
        """Per input its index, label and the label's probability."""
        return ["index", "label", "probability"], [
            [index, label, f"{predictions['probabilities'][index, cls]:.4f}"]
            for index, (label, cls) in enumerate(zip(predictions["label"], predictions["class"]))
        ]


class SequenceClassifier(Classifier):
    """[(T_i, F) raw frames] -> classes; the frames standardised as in training."""

    description = "sequence classifier"

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        super().__init__(model, preprocessing, config)
        self.scaler = StandardScaler.from_dict(preprocessing["scaler"])

    def predict(self, sequences: list[np.ndarray]) -> dict:
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

    def read_inputs(self, path: Path) -> list[np.ndarray]:
        from grukit.data.sequences import load_sequence_file

        return load_sequence_file(path, labelled=False).sequences

    def wants(self) -> str:
        return (
            f"a sequence classifier of {self.model.recurrent.input_size} features per frame "
            f"into {len(self.class_names)} classes ({', '.join(map(str, self.class_names[:8]))}"
            f"{', ...' if len(self.class_names) > 8 else ''}); --data: an .npz or .csv of "
            "sequences laid out as for grukit train --task classify (labels optional)"
        )


class TextClassifier(Classifier):
    """[text] -> classes; tokenised and looked up in the training vocabulary."""

    description = "text classifier"

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        super().__init__(model, preprocessing, config)
        self.vocabulary = Vocabulary.from_dict(preprocessing["vocabulary"])

    def predict(self, texts: list[str]) -> dict:
        """[text] -> {"class", "label", "probabilities" (N, C)}."""
        ids = [self.vocabulary.encode(tokenize(text)) for text in texts]
        return self._classify(pad_ids(ids[i : i + BATCH]) for i in range(0, len(ids), BATCH))

    def read_inputs(self, path: Path) -> list[str]:
        return read_texts(path)

    def wants(self) -> str:
        return (
            f"a text classifier into {', '.join(map(str, self.class_names))}; --data: a .txt "
            "file of one text per line, or a .csv with a 'text' column"
        )


class Forecaster(TorchPredictor):
    """The recent raw values of a series -> its next ``horizon`` values."""

    description = "forecaster"

    def __init__(self, model: nn.Module, preprocessing: dict, config: dict) -> None:
        super().__init__(model, preprocessing, config)
        self.scaler = StandardScaler.from_dict(preprocessing["scaler"])
        self.window, self.horizon, self.anchor = (
            preprocessing[k] for k in ("window", "horizon", "anchor")
        )

    @property
    def needed(self) -> int:
        """How many recent values a forecast reads: the window, and the season before it
        that anchored outputs are offsets from."""
        return self.window + self.anchor

    @torch.no_grad()
    def predict(self, values: np.ndarray) -> dict:
        """The next ``horizon`` values after the raw ``values`` (N,): {"forecast" (h,)}."""
        window, horizon, anchor = self.window, self.horizon, self.anchor
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) < self.needed or not np.isfinite(values).all():
            raise ValueError(
                f"data: got {values.shape[0] if values.ndim == 1 else values.shape} values, "
                f"wanted at least {self.needed} finite ones (window {window} + anchor "
                f"{anchor}) in one column"
            )
        scaled = self.scaler.transform(values).astype(np.float32)
        window_features = anchored_features(scaled, anchor)[-window:]  # (w, F), as in training
        inputs = torch.from_numpy(window_features[:, None, :].copy())  # (w, 1, F)
        offsets = self.model(inputs, torch.tensor([window]))[0][0].double().numpy()
        if anchor:  # outputs are offsets from the values one season earlier
            offsets = offsets + seasonal_naive(scaled, [len(scaled)], horizon, anchor)[0]
        return {"forecast": self.scaler.inverse(offsets)}

    def read_inputs(self, path: Path) -> list[float]:
        return read_values(path)

    def rows(self, predictions: dict) -> tuple[list[str], list[list]]:
        """Each step ahead and its forecast."""
        return ["step", "forecast"], [
            [k + 1, f"{value:.6g}"] for k, value in enumerate(predictions["forecast"])
        ]

    def wants(self) -> str:
        return (
            f"a forecaster of the next {self.horizon} values; --data: a column of at least "
            f"{self.needed} recent values (window {self.window} + anchor {self.anchor}), one "
            "per line, or a .csv's 'value' column (else its last one), header optional"
        )
