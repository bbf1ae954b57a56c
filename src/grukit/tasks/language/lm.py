r"""Language modelling: predict each next token of a corpus (PTB words or characters,
Shakespeare's characters).

    x_t = E w_t;  h_t = recurrent(x_1..x_t);  p(w_{t+1} | w_1..w_t) = softmax(W h_t + b)

The loss is the cross-entropy in nats per predicted token; perplexity is e^loss (word
level), bits per character loss / ln 2 (character level).

Truncated backpropagation through time (Zaremba et al. 2014; Merity et al. 2017): a split
is one stream of ids, cut into B contiguous streams (B the batch size; the last
N mod B tokens are dropped), read in windows of ``bptt`` steps. The state at the end of a
window starts the next one (detached: the gradient stops at the window's start), within
an epoch and over a whole evaluation split; each split's pass starts from zeros. With
``bptt_jitter`` the training windows vary in length as in AWD-LSTM (``bptt`` with
probability 0.95, else half of it, then N(that, 5) rounded, at least 5), drawn from the
epoch's seed.

The model (``grukit.models.language``): an embedding, the recurrent layers and a
read-out, tied to the embedding by default (``--tie``; ``--embedding``, ``--word-dropout``
and ``--dropout-mode locked`` as there). ``--activation-penalty`` and
``--temporal-penalty`` add AWD-LSTM's AR and TAR to the training loss; the epoch's train
loss includes them, valid and test are the cross-entropy alone.

Shape legend: T window length, B streams, V vocabulary, E embedding size, H hidden units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from grukit.config import option, require_at_least
from grukit.data.batching import Batch
from grukit.data.corpora import CORPORA, Corpus, load_corpus
from grukit.metrics import bits_per_character, perplexity
from grukit.tasks.base import Task, model_device

# A batch: ids (T, B), next ids (T, B), lengths (B,) = T


@dataclass
class DataConfig:
    """Which corpus, and how it is cut for truncated backpropagation through time."""

    dataset: str = option(
        "ptb",
        "ptb (words) or ptb-char (characters), pip install 'grukit[lm]'; "
        "shakespeare (characters, bundled)",
    )
    bptt: int = option(35, "steps per training window (the gradient's horizon)")
    bptt_jitter: bool = option(False, "vary the training windows' length as AWD-LSTM does")
    eval_batch_size: int = option(10, "streams the valid and test splits are cut into")
    limit: int = option(0, "only the first N tokens of each split (0 = all), for quick checks")

    def __post_init__(self) -> None:
        if self.dataset not in CORPORA:
            raise ValueError(f"dataset: got {self.dataset!r}, wanted one of {', '.join(CORPORA)}")
        require_at_least(self, 1, "bptt", "eval_batch_size")
        require_at_least(self, 0, "limit")

    @property
    def title(self) -> str:
        return self.dataset


def stream_columns(ids: np.ndarray, streams: int) -> Tensor:
    """(N,) ids -> (N // streams, streams): column b is the b-th contiguous stretch."""
    steps = len(ids) // streams
    if steps < 2:
        raise ValueError(
            f"batch_size: {streams} streams of {len(ids):,} tokens leave fewer than 2 steps "
            "each; use fewer"
        )
    return torch.from_numpy(ids[: steps * streams].reshape(streams, steps).T.copy())


def window_lengths(total: int, bptt: int, jitter: bool, seed: int) -> list[int]:
    """Lengths of the windows that cover ``total`` predicted steps."""
    rng = np.random.default_rng(seed)
    lengths, covered = [], 0
    while covered < total:
        length = bptt
        if jitter:
            base = bptt if rng.random() < 0.95 else bptt / 2
            length = max(5, int(round(rng.normal(base, 5))))
        length = min(length, total - covered)
        lengths.append(length)
        covered += length
    return lengths


class LanguageModelTask(Task):
    """Next-token prediction over a corpus' splits, the state carried between windows."""

    Data = DataConfig
    model_defaults = {"hidden": 200, "layers": 2}  # Zaremba et al.'s small model
    train_defaults = {"batch_size": 20, "lr": 1e-3, "epochs": 40}
    head = "step"
    token_inputs = True
    metric = "nll"
    metric_label = "cross-entropy per token (nats)"
    # Scoring the 930K-token train split again would cost a third of an epoch after the
    # run's time budget; its loss per epoch is in the history.
    result_splits = ("valid", "test")

    def __init__(self, corpus: Corpus, config: DataConfig) -> None:
        self.corpus = corpus
        self.config = config
        self.title = config.title
        self.vocabulary_size = self.outputs = len(corpus.vocabulary)
        self._state = None  # carried from one window to the next (detached)

    @classmethod
    def from_config(cls, data: DataConfig) -> LanguageModelTask:
        corpus = load_corpus(data.dataset)
        if data.limit:
            splits = {name: ids[: data.limit] for name, ids in corpus.splits.items()}
            corpus = Corpus(corpus.name, corpus.unit, corpus.vocabulary, splits)
        return cls(corpus, data)

    @property
    def trivial_loss(self) -> float:
        """A uniform guess over the vocabulary."""
        return math.log(self.outputs)

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        """Windows in order (``shuffle`` only varies their lengths with ``bptt_jitter``:
        the streams must be read in order for the state to carry). A new pass starts from
        a zero state."""
        streams = batch_size if split == "train" else self.config.eval_batch_size
        columns = stream_columns(self.corpus.splits[split], streams)
        jitter = self.config.bptt_jitter and split == "train" and shuffle
        lengths = window_lengths(len(columns) - 1, self.config.bptt, jitter, seed)
        self._state = None
        start = 0
        for length in lengths:
            window = columns[start : start + length + 1]
            yield Batch(window[:-1], window[1:], torch.full((streams,), length))
            start += length

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        """The window's summed loss, the state carried in from the window before; in
        training, plus the activation penalties (as a sum: count x the mean penalties)."""
        batch = Batch.of(batch).to(model_device(model))
        hidden, state = model.encode(batch.inputs, None, self._state)
        self._state = detach(state)
        dropped = model.dropout(hidden)
        total, count = self.criterion(model.readout(dropped), batch.targets, batch.lengths)
        if model.training:
            total = total + count * model.activation_penalties(hidden, dropped)
        return total, count

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        total = nn.functional.cross_entropy(
            outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1), reduction="sum"
        )
        return total, targets.numel()

    def preprocessing(self) -> dict:
        """The vocabulary (``symbols``, id -> symbol) and its unit, which
        ``grukit.inference.generation`` needs to turn a prompt into ids and sampled ids
        into text."""
        return {"kind": "lm", "unit": self.corpus.unit, "symbols": list(self.corpus.vocabulary)}

    def scores_from_loss(self, loss: float) -> dict:
        """Perplexity (words) or bits per character, from the mean loss over a split (also
        of a diverging model's: a loss over ln(float max) is an infinite perplexity)."""
        if self.corpus.unit == "word":
            return {"perplexity": perplexity(loss)}
        return {"bpc": bits_per_character(loss)}


def detach(state):
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()
