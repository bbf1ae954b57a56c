"""Spoken digits: the Free Spoken Digit Dataset (3,000 recordings of the digits 0-9, 300
each, six speakers) as 13 MFCCs per frame, 6-92 frames per utterance; the class is the
digit. Bundled (``grukit/data/bundled/fsdd_mfcc.npz``; source and CC BY-SA 4.0 licence in
SOURCES.md there). Stratified split with a fixed seed, 80 / 10 / 10 by default (2,400 /
300 / 300); MFCCs standardised with the training frames' mean and deviation."""

from __future__ import annotations

from dataclasses import dataclass

from grukit.data.sequences import load_bundled_splits
from grukit.tasks.classification.base import FeatureSequences, SequenceClassificationTask


@dataclass
class DataConfig(FeatureSequences):
    """The Free Spoken Digit Dataset as MFCCs."""

    @property
    def title(self) -> str:
        return "spoken-digits"


class SpokenDigitsTask(SequenceClassificationTask):
    Data = DataConfig
    model_defaults = {"hidden": 64}
    train_defaults = {"batch_size": 32, "lr": 2e-3, "epochs": 60, "patience": 15, "bucket": True}

    @classmethod
    def from_config(cls, data: DataConfig) -> SpokenDigitsTask:
        splits, scaler = data.split(load_bundled_splits("spoken_digits")["all"])
        return cls(splits, 10, data.title, noise=data.noise, scaler=scaler)
