"""Data: real data sets (bundled or from a named folder) and variable-length batching."""

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
