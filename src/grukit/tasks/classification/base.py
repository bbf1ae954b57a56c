r"""What every sequence-classification task shares: the loss, the scores, the confusion
matrix, and batches of variable-length labelled sequences.

A classifier reads a sequence x_1..x_T and gives logits y = W pool(h_1..h_T) + b
(``PooledReadout``); the loss is the cross-entropy summed over sequences, -sum_n log
softmax(y_n)[c_n]. Scores: accuracy, and the macro-averaged F1, the mean over classes of
F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c), which weighs a rare class as much as a common one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from grukit.config import option
from grukit.data.batching import Batch, batch_indices, pad_sequences
from grukit.data.scaling import StandardScaler
from grukit.data.sequences import LabelledSequences, stratified_split
from grukit.extras import require
from grukit.metrics import accuracy, classification_scores, confusion_matrix, macro_f1
from grukit.tasks.base import Baseline, Task

# A batch: inputs (T, B, F), labels (B,), lengths (B,)
EVAL_BATCH = 256
BASELINE_C = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # logistic regression C, tried on valid


def logistic_regression_baseline(
    name: str, features: dict, labels: dict[str, np.ndarray], classes: int
) -> Baseline:
    """Logistic regression (scikit-learn) on ``features[split]`` (N, D), its inverse
    regularisation C the one of BASELINE_C with the best validation macro-F1, scored on the
    test split: ``{"name": name, "scores": {"test_accuracy", "test_macro_f1"}, "settings":
    {"C"}}``."""
    linear_model = require("sklearn.linear_model", "train", needed_by="scoring the baselines")

    def confusion(c: float, split: str) -> np.ndarray:
        classifier = linear_model.LogisticRegression(C=c, max_iter=5000)
        classifier.fit(features["train"], labels["train"])
        return confusion_matrix(labels[split], classifier.predict(features[split]), classes)

    best_c = max(BASELINE_C, key=lambda c: macro_f1(confusion(c, "valid")))
    scores = classification_scores(confusion(best_c, "test"))
    return {
        "name": name,
        "scores": {f"test_{key}": value for key, value in scores.items()},
        "settings": {"C": best_c},
    }


def summary_features(data: LabelledSequences) -> np.ndarray:
    """(N, 4F): each feature's mean, standard deviation, minimum and maximum over each
    sequence's frames: what a practitioner feeds a linear model first."""
    return np.stack(
        [np.concatenate([s.mean(0), s.std(0), s.min(0), s.max(0)]) for s in data.sequences]
    )


class Classification(Task):
    """Loss, scores and confusion-matrix report of a classification task. The task gives
    ``classes``, ``class_names``, ``title`` and ``batches(split, batch_size, *, shuffle,
    seed, bucket)`` yielding (inputs (T, B, F), labels (B,), lengths (B,))."""

    head = "pooled"
    metric = "ce"
    metric_label = "cross-entropy (nats)"
    classes: int
    class_names: list[str]

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        return nn.functional.cross_entropy(outputs, targets, reduction="sum"), len(targets)

    def confusion(self, model: nn.Module, split: str) -> np.ndarray:
        """(C, C) counts: row = true class, column = predicted class."""
        counts = np.zeros((self.classes, self.classes), dtype=np.int64)
        for logits, labels, _ in self.outputs_of(model, split, EVAL_BATCH):
            counts += confusion_matrix(labels.numpy(), logits.argmax(-1).numpy(), self.classes)
        return counts

    def scores(self, model: nn.Module, split: str) -> dict:
        return classification_scores(self.confusion(model, split))

    def preprocessing(self) -> dict:
        return {"kind": "classes", "class_names": list(self.class_names)}

    def report(self, model: nn.Module, out_dir: Path) -> dict:
        """Writes ``confusion.png``, the test split's confusion matrix."""
        from grukit.train.plots import plot_confusion

        counts = self.confusion(model, "test")
        plot_confusion(
            counts,
            self.class_names,
            Path(out_dir) / "confusion.png",
            f"{self.title}: test confusion (accuracy {accuracy(counts):.1%})",
        )
        return {}


class SequenceClassificationTask(Classification):
    """Variable-length labelled sequences in ``splits`` ({"train", "valid", "test"} ->
    LabelledSequences), padded per batch; with ``bucket``, batches of similar lengths.
    ``noise``: the standard deviation of Gaussian noise added to every training frame,
    drawn anew for each batch (features are standardised, so it is relative to their
    spread) — augmentation for small sets; evaluation never sees it."""

    def __init__(
        self,
        splits: dict[str, LabelledSequences],
        classes: int,
        title: str,
        class_names: list[str] | None = None,
        noise: float = 0.0,
        scaler: StandardScaler | None = None,
    ) -> None:
        self.splits = splits
        self.scaler = scaler
        self.noise = noise
        self.classes = classes
        self.class_names = class_names or [str(c) for c in range(classes)]
        self.title = title
        self.input_size = splits["train"].sequences[0].shape[1]
        self.outputs = classes

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        data = self.splits[split]
        # Seeded like the batch order, so a resumed run draws the same noise.
        rng = np.random.default_rng([seed, 1]) if shuffle and self.noise else None
        for indices in batch_indices(
            data.lengths, batch_size, shuffle=shuffle, seed=seed, bucket=bucket
        ):
            sequences = [data.sequences[i] for i in indices]
            if rng is not None:
                sequences = [
                    s + rng.normal(0, self.noise, s.shape).astype(s.dtype) for s in sequences
                ]
            inputs, lengths = pad_sequences(sequences)
            yield Batch(inputs, torch.from_numpy(data.labels[indices]), lengths)

    def preprocessing(self) -> dict:
        """The class names and the feature scaler: what ``grukit predict`` needs."""
        if self.scaler is None:
            return {}
        return {
            "kind": "sequences",
            "class_names": list(self.class_names),
            "scaler": self.scaler.to_dict(),
        }

    def baselines(self) -> list[Baseline]:
        """Logistic regression on each sequence's summary statistics (``summary_features``;
        the frames are standardised already)."""
        features = {split: summary_features(part) for split, part in self.splits.items()}
        labels = {split: part.labels for split, part in self.splits.items()}
        return [
            logistic_regression_baseline(
                "logreg on mean/std/min/max", features, labels, self.classes
            )
        ]


def scale_sequences(scaler: StandardScaler, data: LabelledSequences) -> LabelledSequences:
    """Each sequence's frames standardised, as float32."""
    return LabelledSequences(
        scaler.transform_sequences(data.sequences), data.labels, data.class_names
    )


@dataclass
class HeldOutFractions:
    """How much of a labelled set to hold out, per class, and the seed of the draw; a task
    sets its own defaults."""

    valid_fraction: float = option(0.1, "share of each class held out for validation")
    test_fraction: float = option(0.1, "share of each class held out for the test")
    data_seed: int = option(0, "seeds the split")

    def __post_init__(self) -> None:
        for name in ("valid_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name}: got {getattr(self, name)}, wanted a number in (0, 0.5)")

    def indices(self, labels: np.ndarray, hold_out_test: bool = True) -> dict[str, np.ndarray]:
        """{"train", "valid"[, "test"]}: indices into ``labels``, stratified by class."""
        fractions = {"train": 1.0, "valid": self.valid_fraction}  # train: what is left
        if hold_out_test:
            fractions["test"] = self.test_fraction
        return stratified_split(labels, fractions, self.data_seed)

    def split(
        self, data: LabelledSequences, test: LabelledSequences | None = None
    ) -> tuple[dict[str, LabelledSequences], StandardScaler]:
        """({"train", "valid", "test"} of ``data``, the scaler): a given ``test`` set is kept
        whole and only the validation share comes out of ``data``. Features are
        standardised with the training frames' statistics."""
        parts = {
            name: data.subset(indices)
            for name, indices in self.indices(data.labels, hold_out_test=test is None).items()
        }
        if test is not None:
            parts["test"] = test
        for name, part in parts.items():
            if len(part) == 0:
                raise ValueError(
                    f"data: the {name} split is empty ({len(data)} sequences, "
                    f"valid_fraction {self.valid_fraction}, test_fraction {self.test_fraction}, "
                    "taken per class): give more sequences or larger fractions"
                )
        scaler = StandardScaler.fit(parts["train"].sequences)
        splits = {name: scale_sequences(scaler, parts[name]) for name in ("train", "valid", "test")}
        return splits, scaler


@dataclass
class FeatureSequences(HeldOutFractions):
    """The held-out shares, and noise augmentation for sequences of feature frames."""

    noise: float = option(0.0, "std of Gaussian noise added to training frames (standardised)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.noise < 0:
            raise ValueError(f"noise: got {self.noise}, wanted a number >= 0")
