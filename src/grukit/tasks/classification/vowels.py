"""Japanese vowels: nine male speakers saying the vowels /ae/, each utterance 7-29 frames
of 12 LPC cepstrum coefficients (Kudo, Toyama & Shimbo 1999, UCI); the class is the
speaker. Bundled (``grukit/data/bundled/japanese_vowels.npz``; source and CC BY 4.0
licence in SOURCES.md there) with the official split: 270 training utterances (30 per
speaker), 370 test. The validation set is a stratified share of the training utterances;
cepstra standardised with the training frames' statistics. Kudo et al. reported 94.1%
test accuracy."""

from __future__ import annotations

from dataclasses import dataclass

from grukit.config import option
from grukit.data.sequences import load_bundled_splits
from grukit.tasks.classification.base import FeatureSequences, SequenceClassificationTask

SPEAKERS = 9


@dataclass
class DataConfig(FeatureSequences):
    """The Japanese vowels speakers (official 270 / 370 split; validation from training)."""

    IGNORED_OPTIONS = ("test_fraction",)  # the official test set is used whole
    noise: float = option(0.1, "std of Gaussian noise added to training frames (standardised)")

    @property
    def title(self) -> str:
        return "japanese-vowels"


class VowelsTask(SequenceClassificationTask):
    Data = DataConfig
    # The recipe that did best over five seeds (README): a bidirectional light GRU, read
    # through each direction's final state, with noise on the training frames.
    model_defaults = {"model": "ligru", "hidden": 64, "bidirectional": True}
    train_defaults = {"batch_size": 16, "lr": 2e-3, "epochs": 100, "patience": 25, "bucket": True}

    @classmethod
    def from_config(cls, data: DataConfig) -> VowelsTask:
        official = load_bundled_splits("japanese_vowels")
        splits, scaler = data.split(official["train"], test=official["test"])
        names = [f"speaker {s + 1}" for s in range(SPEAKERS)]
        return cls(splits, SPEAKERS, data.title, names, data.noise, scaler)
