"""Data: real data sets (bundled, from a named package or folder: ``music``, ``sequences``,
``series``), text to token ids (``text``: tokenizer, vocabulary saved with a model), the
one standard scaler (``scaling``) and variable-length batching (``batching``). Imports
nothing from models/, train/, tasks/ or cli/; its modules are imported on first use
(``grukit.data.corpora`` needs no torch)."""

from grukit.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Batch": "grukit.data.batching",
        "batch_indices": "grukit.data.batching",
        "next_step_batch": "grukit.data.batching",
        "pad_sequences": "grukit.data.batching",
        "DATASETS": "grukit.data.music",
        "independent_bernoulli_nll": "grukit.data.music",
        "load_music": "grukit.data.music",
    },
)

__all__ = [
    "DATASETS",
    "Batch",
    "batch_indices",
    "independent_bernoulli_nll",
    "load_music",
    "next_step_batch",
    "pad_sequences",
]
