"""Your own labelled sequences: ``grukit train --task classify --data FILE`` trains a
sequence classifier (recurrent layer, state after each sequence's last step, linear
read-out, cross-entropy) on a ``.npz`` or ``.csv`` of variable-length sequences.

Layouts (``grukit.data.sequences``): an ``.npz`` with ``features`` (total frames, F) — the
sequences' frames one after the other —, ``lengths`` (N,) and ``labels`` (N,) in 0..C-1
(or ``features`` padded to (N, T_max, F)); a ``.csv`` with one frame per row and columns
``sequence``, ``label`` and the features. A malformed file (ragged arrays without lengths,
NaN, a label out of range, ...) is refused with a one-line message. The file is split per
class into train / valid / test with a fixed seed (or ``--test-data`` is the test set);
features are standardised with the training frames' statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grukit.config import option
from grukit.data.sequences import load_sequence_file
from grukit.tasks.classification.base import FeatureSequences, SequenceClassificationTask

MAX_CLASSES_OPTION = 10_000  # C x C int64 confusion counts: 800 MB at this size


@dataclass
class DataConfig(FeatureSequences):
    """Your labelled sequences (.npz or .csv)."""

    data: str | None = option(None, "the .npz or .csv file of labelled sequences (required)")
    test_data: str | None = option(None, "a separate test file (then only valid comes from --data)")
    classes: int | None = option(
        None, "number of classes (default: the largest label + 1, or the number of names)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.data:
            raise ValueError("data: give --data FILE, a .npz or .csv of labelled sequences")
        if self.classes is not None and not 2 <= self.classes <= MAX_CLASSES_OPTION:
            raise ValueError(
                f"classes: got {self.classes}, wanted an int in 2..{MAX_CLASSES_OPTION:,}"
            )
        # Saved absolute, so that `grukit eval` finds the files from any folder.
        self.data = str(Path(self.data).resolve())
        if self.test_data:
            self.test_data = str(Path(self.test_data).resolve())

    @property
    def title(self) -> str:
        return Path(self.data).stem


class ClassifyTask(SequenceClassificationTask):
    Data = DataConfig
    model_defaults = {"hidden": 64}
    train_defaults = {"batch_size": 32, "lr": 2e-3, "epochs": 100, "patience": 20, "bucket": True}

    @classmethod
    def from_config(cls, config: DataConfig) -> ClassifyTask:
        data = load_sequence_file(config.data, config.classes)
        test = None
        if config.test_data:
            test = load_sequence_file(config.test_data, config.classes, data.class_names)
        features = {part.sequences[0].shape[1] for part in (data, test) if part is not None}
        if len(features) > 1:
            raise ValueError(
                f"test data: its frames have {len(test.sequences[0][0])} features, those of "
                f"--data {len(data.sequences[0][0])}"
            )
        observed = max(int(part.labels.max()) for part in (data, test) if part is not None) + 1
        present = np.unique(data.labels)
        if len(present) < 2:  # found only after training before, by the baseline's solver
            raise ValueError(
                f"data: every sequence in {config.data} has label {present[0]}; a classifier "
                f"needs at least two classes"
            )
        splits, scaler = config.split(data, test)
        classes = config.classes or (len(data.class_names) if data.class_names else observed)
        return cls(splits, classes, config.title, data.class_names, config.noise, scaler)
