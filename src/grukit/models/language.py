r"""Language models: token ids in, the next token's logits out, at every step.

    x_t = E w_t;  h_t = recurrent(x_1..x_t);  p(w_{t+1} | w_1..w_t) = softmax(W h_t + b)

Weight tying (Press & Wolf 2017; Inan et al. 2017): with ``tie`` the read-out's weight
matrix is the embedding's (one tensor), which needs the embedding size to equal the last
layer's hidden size.

Regularisation (Zaremba et al. 2014): ``dropout`` acts on every non-recurrent connection,
the embedded input included (the embedding's output, between the layers, before the
read-out). ``word_dropout`` (Gal & Ghahramani 2016, AWD-LSTM's "dropoute") drops whole
rows of the embedding matrix, one mask per batch, so every occurrence of a dropped word
in the batch reads zeros; kept rows are scaled by 1/(1 - p). ``dropout_mode="locked"``
makes every dropout mask one per stream and window (AWD-LSTM's LockedDropout).
``activation_penalty`` and ``temporal_penalty`` are AWD-LSTM's AR and TAR
(:meth:`LanguageModel.activation_penalties`), which the training loss adds.

Initialisation: the embedding (and so a tied read-out) uniform in [-0.1, 0.1] and the
read-out's bias 0, as Zaremba et al. and AWD-LSTM do; torch's N(0, 1) embedding tied to
the read-out gives logits of standard deviation ~sqrt(H) at the start, and training
crawls for epochs (measured on 2x650 with Adam: valid perplexity 491 after a whole epoch
with torch's initialisation, 337 after a fifth of one with this).

Shape legend: T time, B streams, V vocabulary, E embedding size, H hidden units.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grukit.layers.dropout import SequenceDropout
from grukit.models.recurrent import ModelConfig, build_recurrent
from grukit.models.sequence import StepReadout


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


class LanguageModel(StepReadout):
    """A :class:`WordEmbedding`, the recurrent layer and a per-step read-out to the
    vocabulary (``forward(ids (T, B), lengths, state) -> (logits (T, B, V), state)``),
    with the activation penalties its training loss adds."""

    def __init__(
        self,
        recurrent: nn.Module,
        embedding: WordEmbedding,
        *,
        dropout: float = 0.0,
        dropout_mode: str = "step",
        activation_penalty: float = 0.0,
        temporal_penalty: float = 0.0,
    ) -> None:
        super().__init__(
            recurrent,
            embedding.num_embeddings,
            embedding=embedding,
            dropout=dropout,
            dropout_mode=dropout_mode,
        )
        self.activation_penalty = activation_penalty
        self.temporal_penalty = temporal_penalty

    def activation_penalties(self, hidden: Tensor, dropped: Tensor) -> Tensor | float:
        """AWD-LSTM's activation regularisation (AR) and temporal activation
        regularisation (TAR), Merity et al. 2017, on the last layer's outputs h (T, B, H):
        ``alpha mean(dropout(h)^2) + beta mean((h_t - h_{t-1})^2)``, the temporal term on
        the outputs before dropout. AR keeps the activations small, TAR keeps them from
        jumping between steps."""
        penalty = 0.0
        if self.activation_penalty:
            penalty = self.activation_penalty * dropped.float().pow(2).mean()
        if self.temporal_penalty and hidden.shape[0] > 1:
            change = (hidden[1:] - hidden[:-1]).float().pow(2).mean()
            penalty = penalty + self.temporal_penalty * change
        return penalty


def build_language_model(
    config: ModelConfig, vocabulary_size: int, embedding_size: int, *, tie: bool
) -> LanguageModel:
    """The language model ``config`` names over ``vocabulary_size`` tokens embedded into
    ``embedding_size`` features (module docstring). The parts are made in a fixed order
    (embedding, recurrent layer, read-out), so that a seed gives the same weights."""
    if tie and embedding_size != config.hidden:
        raise ValueError(
            f"tie: the embedding ({embedding_size}) and the last layer's hidden size "
            f"({config.hidden}) differ; give --embedding {config.hidden} or --no-tie"
        )
    dropouts = dict(dropout=config.dropout, dropout_mode=config.dropout_mode)
    embedding = WordEmbedding(
        vocabulary_size, embedding_size, word_dropout=config.word_dropout, **dropouts
    )
    model = LanguageModel(
        build_recurrent(config, embedding_size),
        embedding,
        activation_penalty=config.activation_penalty,
        temporal_penalty=config.temporal_penalty,
        **dropouts,
    )
    nn.init.zeros_(model.readout.bias)
    if tie:
        model.readout.weight = embedding.weight
    else:
        nn.init.uniform_(model.readout.weight, -0.1, 0.1)
    return model
