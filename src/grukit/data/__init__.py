"""Data: real data sets (bundled, from a named package or folder: ``music``, ``sequences``,
``series``), text to token ids (``text``: tokenizer, vocabulary saved with a model), the
one standard scaler (``scaling``) and variable-length batching (``batching``). Imports
nothing from models/, train/, tasks/ or cli/."""

from grukit.data.batching import batch_indices, next_step_batch, pad_sequences
from grukit.data.music import DATASETS, independent_bernoulli_nll, load_music

__all__ = [
    "DATASETS",
    "batch_indices",
    "independent_bernoulli_nll",
    "load_music",
    "next_step_batch",
    "pad_sequences",
]
