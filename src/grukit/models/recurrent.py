"""The recurrent layer of a task model, by name: a grukit variant, or torch's LSTM or tanh
RNN as the peers to compare with. One place builds them all, so every task offers the
same models and options."""

from __future__ import annotations

import inspect
import itertools
from dataclasses import asdict, dataclass

import torch
from torch import nn

from grukit.cells import RESET_GATED, VARIANTS, cell_spec
from grukit.config import build, option, require_at_least, require_non_negative
from grukit.layers import GRU
from grukit.layers.checks import check_init
from grukit.models.sequence import PooledReadout, StepReadout, check_pooling

MODELS = ("rnn", "lstm", *VARIANTS)
HEADS = ("step", "pooled")
# The grukit layer's regularisers that ModelConfig offers; torch's layers have none. Their
# defaults are the layer's own (read from its signature, so they cannot drift apart).
REGULARISERS = (
    "norm",
    "input_dropout",
    "dropout_mode",
    "recurrent_dropout",
    "zoneout",
    "weight_dropout",
)
REGULARISER_DEFAULTS = {
    name: inspect.signature(GRU.__init__).parameters[name].default for name in REGULARISERS
}
# Options of models that read token ids (an embedding) and of language models (a per-step
# read-out over tokens); grukit before 0.2 kept them among the task's data options.
TOKEN_OPTIONS = ("embedding",)
LANGUAGE_MODEL_OPTIONS = ("tie", "word_dropout", "activation_penalty", "temporal_penalty")
# Model options that change what the weights mean: two models that differ in one of them
# may still have tensors of the same shapes (reset before or after the matmul, say).
ARCHITECTURE_OPTIONS = ("model", "reset_after", "bidirectional", "pooling", "norm")


@dataclass
class ModelConfig:
    """Which recurrent model, and its size."""

    model: str = option("gru", "rnn (tanh), lstm, or a grukit variant: " + ", ".join(VARIANTS))
    hidden: int = option(46, "hidden units of each recurrent layer")
    layers: int = option(1, "stacked recurrent layers")
    dropout: float = option(0.0, "dropout between stacked layers and before the read-out")
    reset_after: bool | None = option(
        None, "gru family: reset after the recurrent matmul (true) or before it (false: Cho, Chung)"
    )
    init: str = option("default", "default, or chrono (gate biases for spans up to --t-max)")
    t_max: float | None = option(None, "chrono: the longest span in steps to remember")
    backend: str = option("auto", "grukit backend: auto, fused or reference")
    bidirectional: bool = option(
        False, "read each sequence both ways (sequence-level tasks only: no peeking ahead)"
    )
    pooling: str = option(
        "last", "sequence-level tasks: the state after each sequence's last step, or mean"
    )
    norm: str | None = option(
        REGULARISER_DEFAULTS["norm"],
        "ligru: batch (default) or layer on its input projection; gru family and mgu: layer "
        "(input and recurrent projections)",
    )
    input_dropout: float = option(
        REGULARISER_DEFAULTS["input_dropout"], "grukit variants: dropout on the first layer's input"
    )
    dropout_mode: str = option(
        REGULARISER_DEFAULTS["dropout_mode"],
        "grukit variants: step (a new dropout mask each step) or locked (one per sequence), "
        "for every dropout of the model (layers, embedding, per-step read-out)",
    )
    recurrent_dropout: float = option(
        REGULARISER_DEFAULTS["recurrent_dropout"],
        "grukit variants: variational dropout on the state the recurrent matmuls read",
    )
    zoneout: float = option(
        REGULARISER_DEFAULTS["zoneout"],
        "grukit variants: chance a unit keeps its old state each step",
    )
    weight_dropout: float = option(
        REGULARISER_DEFAULTS["weight_dropout"],
        "grukit variants: DropConnect on the recurrent weights, one mask per batch",
    )
    embedding: int = option(0, "token inputs: embedding size; 0 = the hidden size")
    tie: bool = option(
        True,
        "language models: the read-out's weights are the embedding's (one tensor; the "
        "embedding must be the last layer's width)",
    )
    word_dropout: float = option(
        0.0,
        "language models: chance a word's whole embedding row is dropped for a batch "
        "(AWD-LSTM: 0.1)",
    )
    activation_penalty: float = option(
        0.0,
        "language models: alpha, training loss + alpha mean(dropout(h)^2), last layer "
        "(AWD-LSTM: 2)",
    )
    temporal_penalty: float = option(
        0.0,
        "language models: beta, training loss + beta mean((h_t - h_t-1)^2), last layer "
        "(AWD-LSTM: 1)",
    )

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model: got {self.model!r}, wanted one of {', '.join(MODELS)}")
        require_at_least(self, 1, "hidden", "layers")
        if not 0 <= self.dropout <= 1:
            raise ValueError(f"dropout: got {self.dropout}, wanted a number in [0, 1]")
        check_pooling(self.pooling)
        check_init(self.init, self.t_max)
        require_at_least(self, 0, "embedding")
        if not 0 <= self.word_dropout < 1:
            raise ValueError(f"word_dropout: got {self.word_dropout}, wanted a number in [0, 1)")
        require_non_negative(self, "activation_penalty", "temporal_penalty")

        if self.init == "chrono" and self.model == "rnn":
            raise ValueError("init: got 'chrono' for model 'rnn', which has no gates")
        if self.model in ("lstm", "rnn"):
            for name in REGULARISERS:
                if getattr(self, name) != REGULARISER_DEFAULTS[name]:
                    raise ValueError(
                        f"{name}: got {getattr(self, name)!r} for model {self.model!r}; "
                        "it is an option of the grukit variants (torch's layers have none)"
                    )

    def architecture(self) -> dict:
        """The ``ARCHITECTURE_OPTIONS`` (see ``architecture``)."""
        return architecture(asdict(self))

    def architecture_differences(self, saved: dict) -> list[str]:
        """What differs between this model and one saved as a ModelConfig dict (options the
        saved dict lacks came later and are not compared): ["name 'x' there, 'y' here"]."""
        there, here = architecture(saved), self.architecture()
        return [
            f"{name} {there[name]!r} there, {here[name]!r} here"
            for name in ARCHITECTURE_OPTIONS
            if name in saved and there[name] != here[name]
        ]


def saved_model_config(run_config: dict) -> ModelConfig:
    """The ModelConfig of a saved run config (config.json, or a checkpoint's ``config``):
    options a grukit before 0.2 kept among the data options (the embedding's size, tying,
    word dropout, AR and TAR) are read from there when the model section lacks them."""
    values = dict(run_config.get("model") or {})
    data = run_config.get("data") or {}
    for name in TOKEN_OPTIONS + LANGUAGE_MODEL_OPTIONS:
        if name not in values and name in data:
            values[name] = data[name]
    return build(ModelConfig, values)


def architecture(model_config: dict) -> dict:
    """A model config's ``ARCHITECTURE_OPTIONS``, ``reset_after`` resolved as the layer
    resolves it (None = the variant's default), so that equal models compare equal. Reads
    the values as they are (a saved config need not be valid with today's checks)."""
    values = {name: model_config.get(name) for name in ARCHITECTURE_OPTIONS}
    if values["model"] in RESET_GATED:
        values["reset_after"] = cell_spec(values["model"], values["reset_after"]).reset_after
    return values


def build_model(
    config: ModelConfig,
    input_size: int,
    outputs: int,
    *,
    head: str,
    vocabulary_size: int | None = None,
    causal: bool = True,
    tie_readout: bool = False,
) -> nn.Module:
    """The task model ``config`` names, for a task of the given shape (what a task's
    ``model_shape`` gives and a checkpoint keeps): the recurrent layer, and a read-out to
    ``outputs`` per step (``head="step"``; ``causal``: see StepReadout) or per sequence
    (``head="pooled"``, ``config.pooling``). With ``vocabulary_size`` the inputs are token
    ids, embedded into ``input_size`` features: a per-step model over tokens is a language
    model (``grukit.models.language``; ``tie_readout``: its read-out's weight is the
    embedding's), a pooled one a text classifier whose id 0 is padding. Every task model,
    in training and read back from a checkpoint, is built here."""
    if head not in HEADS:
        raise ValueError(f"head: got {head!r}, wanted one of {', '.join(HEADS)}")
    if head == "step" and vocabulary_size:
        from grukit.models.language import build_language_model

        return build_language_model(config, vocabulary_size, input_size, tie=tie_readout)
    recurrent = build_recurrent(config, input_size)
    embedding = None
    if vocabulary_size:
        embedding = nn.Embedding(vocabulary_size, input_size, padding_idx=0)
    if head == "step":
        return StepReadout(
            recurrent,
            outputs,
            config.dropout,
            causal=causal,
            dropout_mode=config.dropout_mode,
        )
    return PooledReadout(recurrent, outputs, config.pooling, config.dropout, embedding)


def build_recurrent(config: ModelConfig, input_size: int) -> nn.Module:
    """The time-major recurrent layer ``config`` names, reading ``input_size`` features.
    ``config.dropout`` goes between its stacked layers; the task head puts it before the
    read-out."""
    # torch warns on dropout with one layer, where it has no connection to act on.
    between = config.dropout if config.layers > 1 else 0.0
    shape = dict(num_layers=config.layers, dropout=between, bidirectional=config.bidirectional)
    if config.model == "lstm":
        lstm = nn.LSTM(input_size, config.hidden, **shape)
        if config.init == "chrono":
            chrono_initialise_lstm(lstm, config.t_max)
        return lstm
    if config.model == "rnn":
        return nn.RNN(input_size, config.hidden, nonlinearity="tanh", **shape)
    return GRU(
        input_size,
        config.hidden,
        **shape,
        variant=config.model,
        reset_after=config.reset_after if config.model in RESET_GATED else None,
        init=config.init,
        t_max=config.t_max,
        backend=config.backend,
        **{name: getattr(config, name) for name in REGULARISERS},
    )


def chrono_initialise_lstm(lstm: nn.LSTM, t_max: float) -> None:
    """Tallec & Ollivier (2018) for torch.nn.LSTM (gates i, f, g, o): forget bias
    ``b_f = log(U(1, t_max - 1))``, input bias ``b_i = -b_f``, in ``bias_ih``; the
    ``bias_hh`` entries of both gates are zeroed so the sums are exactly those."""
    H = lstm.hidden_size
    suffixes = ("", "_reverse") if lstm.bidirectional else ("",)
    with torch.no_grad():
        for layer, suffix in itertools.product(range(lstm.num_layers), suffixes):
            forget = torch.empty(H).uniform_(1.0, t_max - 1.0).log()
            bias_ih = getattr(lstm, f"bias_ih_l{layer}{suffix}")
            bias_hh = getattr(lstm, f"bias_hh_l{layer}{suffix}")
            bias_ih[:H] = -forget
            bias_ih[H : 2 * H] = forget
            bias_hh[: 2 * H] = 0


def recurrent_parameters(model: nn.Module) -> int:
    """Parameters of a task model's recurrent layer (the papers' budgets count only these)."""
    return sum(p.numel() for p in model.recurrent.parameters())


def hidden_for_budget(
    model: str, budget: int, input_size: int, reset_after: bool | None = None
) -> int:
    """The width whose recurrent layer's parameter count is closest to ``budget``."""

    def count(hidden: int) -> int:
        config = ModelConfig(model=model, hidden=hidden, reset_after=reset_after)
        return parameter_count(config, input_size)

    return min(range(2, 512), key=lambda hidden: abs(count(hidden) - budget))


def parameter_count(config: ModelConfig, input_size: int) -> int:
    """Parameters of the recurrent layer ``config`` names."""
    return sum(p.numel() for p in build_recurrent(config, input_size).parameters())
