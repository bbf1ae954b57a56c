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

Weight tying (Press & Wolf 2017; Inan et al. 2017): the read-out's weight matrix is the
embedding's (one tensor), which needs the embedding size to equal the last layer's
hidden size; ``--tie`` is on by default, and refused with the sizes when they differ.

Regularisation (Zaremba et al. 2014): ``--dropout`` acts on every non-recurrent
connection, the embedded input included (the embedding's output, between the layers,
before the read-out). ``--word-dropout`` (Gal & Ghahramani 2016, AWD-LSTM's "dropoute")
drops whole rows of the embedding matrix, one mask per batch, so every occurrence of a
dropped word in the batch reads zeros; kept rows are scaled by 1/(1 - p). The recurrent
layer's own regularisers (``--recurrent-dropout``, ``--zoneout``, ``--weight-dropout``)
apply as for any task, and ``--dropout-mode locked`` makes every ``--dropout`` mask, the
embedding's and the read-out's too, one per stream and window (AWD-LSTM's LockedDropout).
``--activation-penalty`` and ``--temporal-penalty`` add AWD-LSTM's AR and TAR to the
training loss (``activation_penalties``); the epoch's train loss includes them, valid and
test are the cross-entropy alone.

Initialisation: the embedding (and so a tied read-out) uniform in [-0.1, 0.1] and the
read-out's bias 0, as Zaremba et al. and AWD-LSTM do; torch's N(0, 1) embedding tied to
the read-out gives logits of standard deviation ~sqrt(H) at the start, and training
crawls for epochs (measured on 2x650 with Adam: valid perplexity 491 after a whole epoch
with torch's initialisation, 337 after a fifth of one with this).

Shape legend: T window length, B streams, V vocabulary, E embedding size, H hidden units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from grukit.config import option, require_at_least, require_non_negative
from grukit.data.corpora import CORPORA, Corpus, load_corpus
from grukit.layers.dropout import SequenceDropout
from grukit.tasks.base import Task, model_device, to_device

Batch = tuple[Tensor, Tensor, Tensor]  # ids (T, B), next ids (T, B), lengths (B,) = T


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
    embedding: int = option(0, "embedding size; 0 = the hidden size (which tying needs)")
    tie: bool = option(True, "the read-out's weights are the embedding's (one tensor)")
    word_dropout: float = option(
        0.0, "chance a word's whole embedding row is dropped for a batch (AWD-LSTM: 0.1)"
    )
    activation_penalty: float = option(
        0.0, "alpha: training loss + alpha mean(dropout(h)^2), last layer (AWD-LSTM: 2)"
    )
    temporal_penalty: float = option(
        0.0, "beta: training loss + beta mean((h_t - h_t-1)^2), last layer (AWD-LSTM: 1)"
    )
    limit: int = option(0, "only the first N tokens of each split (0 = all), for quick checks")

    def __post_init__(self) -> None:
        if self.dataset not in CORPORA:
            raise ValueError(f"dataset: got {self.dataset!r}, wanted one of {', '.join(CORPORA)}")
        require_at_least(self, 1, "bptt", "eval_batch_size")
        require_at_least(self, 0, "embedding", "limit")
        if not 0 <= self.word_dropout < 1:
            raise ValueError(f"word_dropout: got {self.word_dropout}, wanted a number in [0, 1)")
        require_non_negative(self, "activation_penalty", "temporal_penalty")

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
        self.input_size = config.embedding  # 0: the hidden size, set by build_model
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

    def build_model(self, config) -> nn.Module:
        """Embedding, the recurrent layers ``config`` names, and a read-out tied to the
        embedding (``--tie``)."""
        from grukit.models import StepReadout, build_recurrent

        size = self.config.embedding or config.hidden
        if self.config.tie and size != config.hidden:
            raise ValueError(
                f"tie: the embedding ({size}) and the last layer's hidden size "
                f"({config.hidden}) differ; give --embedding {config.hidden} or --no-tie"
            )
        self.input_size = size
        dropouts = dict(dropout=config.dropout, dropout_mode=config.dropout_mode)
        embedding = WordEmbedding(
            self.outputs, size, word_dropout=self.config.word_dropout, **dropouts
        )
        model = StepReadout(
            build_recurrent(config, size), self.outputs, embedding=embedding, **dropouts
        )
        nn.init.zeros_(model.readout.bias)
        if self.config.tie:
            model.readout.weight = embedding.weight
        else:
            nn.init.uniform_(model.readout.weight, -0.1, 0.1)
        return model

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
            yield window[:-1], window[1:], torch.full((streams,), length)
            start += length

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        """The window's summed loss, the state carried in from the window before; in
        training, plus the activation penalties (as a sum: count x the mean penalties)."""
        inputs, targets, lengths = to_device(batch, model_device(model))
        hidden, state = model.encode(inputs, None, self._state)
        self._state = detach(state)
        dropped = model.dropout(hidden)
        total, count = self.criterion(model.readout(dropped), targets, lengths)
        if model.training:
            total = total + count * self.activation_penalties(hidden, dropped)
        return total, count

    def activation_penalties(self, hidden: Tensor, dropped: Tensor) -> Tensor | float:
        """AWD-LSTM's activation regularisation (AR) and temporal activation
        regularisation (TAR), Merity et al. 2017, on the last layer's outputs h (T, B, H):
        ``alpha mean(dropout(h)^2) + beta mean((h_t - h_{t-1})^2)``, the temporal term on
        the outputs before dropout. AR keeps the activations small, TAR keeps them from
        jumping between steps."""
        penalty = 0.0
        if self.config.activation_penalty:
            penalty = self.config.activation_penalty * dropped.float().pow(2).mean()
        if self.config.temporal_penalty and hidden.shape[0] > 1:
            change = (hidden[1:] - hidden[:-1]).float().pow(2).mean()
            penalty = penalty + self.config.temporal_penalty * change
        return penalty

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        total = nn.functional.cross_entropy(
            outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1), reduction="sum"
        )
        return total, targets.numel()

    def model_shape(self) -> dict:
        """The generic shape, and whether the read-out is tied: a tied model is rebuilt with
        one tensor for both, as trained (``grukit.load``)."""
        return {**super().model_shape(), "tie_readout": self.config.tie}

    def preprocessing(self) -> dict:
        """The vocabulary (``symbols``, id -> symbol) and its unit, which
        ``grukit.generation`` needs to turn a prompt into ids and sampled ids into text."""
        return {"kind": "lm", "unit": self.corpus.unit, "symbols": list(self.corpus.vocabulary)}

    def scores_from_loss(self, loss: float) -> dict:
        """Perplexity (words) or bits per character, from the mean loss over a split (also
        of a diverging model's: a loss over ln(float max) is an infinite perplexity)."""
        if self.corpus.unit == "word":
            try:
                return {"perplexity": math.exp(loss)}
            except OverflowError:
                return {"perplexity": math.inf}
        return {"bpc": loss / math.log(2)}


class WordEmbedding(nn.Embedding):
    """Token ids (T, B) -> dropout(E_masked[ids]) (T, B, E).

    In training, row v of E is zeroed with probability ``word_dropout`` (one mask per
    call, i.e. per batch) and kept rows are scaled by 1/(1 - word_dropout); then dropout
    with ``dropout`` acts on the embedded vectors, a new mask per step or one per stream
    (``dropout_mode``, see ``grukit.layers.dropout``). In eval mode it is a plain
    lookup. The weight is initialised uniform in [-0.1, 0.1] (see the module docstring)."""

    def __init__(
        self,
        vocabulary: int,
        size: int,
        *,
        dropout: float = 0.0,
        word_dropout: float = 0.0,
        dropout_mode: str = "step",
    ) -> None:
        super().__init__(vocabulary, size)
        nn.init.uniform_(self.weight, -0.1, 0.1)
        self.dropout = SequenceDropout(dropout, dropout_mode)
        self.word_dropout = word_dropout

    def forward(self, ids: Tensor) -> Tensor:
        weight = self.weight
        if self.training and self.word_dropout:
            keep = torch.empty(weight.shape[0], 1, device=weight.device).bernoulli_(
                1 - self.word_dropout
            )
            weight = weight * keep / (1 - self.word_dropout)
        return self.dropout(nn.functional.embedding(ids, weight))


def detach(state):
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()
