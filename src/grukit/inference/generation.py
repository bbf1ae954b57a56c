r"""Text from a trained language model (``grukit train --task lm``), one token at a time.

>>> generator = grukit.load("runs/ptb-char-gru-256/best")  # a TextGenerator
>>> for piece in generator.stream("the company said", tokens=200, top_p=0.9, seed=0):
...     print(piece, end="", flush=True)
>>> config = GenerationConfig(tokens=200, temperature=0.8, seed=0)
>>> text = generator.generate("the company said", config)  # prompt + continuation

The prompt goes through the model's ``step()`` one token at a time from the zero state,
and so does every sampled token: the recurrent state is carried, the prefix is never run
again. Two engines step it: NumPy (``grukit.inference.numpy_engine``: gru, LSTM and
tanh-RNN language models, without importing torch, so that ``grukit generate`` prints
its first token well within a second) and torch (any model: the fused streaming path,
``grukit.Stream``, for a grukit layer); ``grukit.load(path, engine="auto")`` takes NumPy
where it can. Step t's logits z_t (V,) are the model's read-out after the token at t;
the next token is drawn from them.

Each next token is chosen from the logits as ``grukit.inference.sampling`` says, driven by
one :class:`~grukit.inference.sampling.GenerationConfig`; the same seed gives the same
text whichever engine steps the model.

Prompts are tokenised as the model's corpus was (``grukit.data.corpora``): for a word
model, words split on whitespace with one ``<eos>`` per line break; a word the
vocabulary lacks becomes ``<unk>`` (PTB has it; without it the word is left out, with a
warning). For a character model, every character, a space written ``_`` and a line break
``<eos>`` where the vocabulary spells them so (ptb-char), else as themselves (the bundled
Shakespeare keeps " " and "\n" as characters); characters the vocabulary lacks are left
out with a warning, and a prompt made only of them is refused (ValueError naming them).
Text comes back the other way round: the line end is a line break, ptb-char's ``_`` a
space, words are joined by single spaces.

An empty prompt (or one of whitespace only, for a word model) starts a new line: the
model reads one line end (``<eos>``, or "\n") from the zero state, as every sentence after
the first is preceded in the training stream, and samples from there; that line end is
not shown.

Shape legend: V vocabulary size, B batch (1 here: one text at a time).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from grukit.data.corpora import EOS, load_corpus
from grukit.inference.base import Predictor
from grukit.inference.numpy_engine import NumpyLanguageModel, unsupported
from grukit.inference.sampling import (
    GenerationConfig,
    check_finite,
    draw,
    generation_config,
    make_rng,
)

UNKNOWN_WORD = "<unk>"
ENGINES = ("auto", "numpy", "torch")


class TextGenerator(Predictor):
    """A language model with its vocabulary: prompt text in, sampled text out.

    ``model``: a torch model with ``step(ids (1,), state) -> (logits (1, V), state)`` (a
    ``grukit.models.StepReadout`` over an embedding), or a
    :class:`grukit.inference.numpy_engine.NumpyLanguageModel`; ``vocabulary``: id ->
    symbol, V of them; ``unit``: ``"word"`` or ``"char"``, how text is cut into symbols
    (module docstring)."""

    commands: ClassVar[tuple[str, ...]] = ("generate",)
    description: ClassVar[str] = "language model"

    def __init__(self, model, vocabulary, unit: str) -> None:
        if unit not in ("word", "char"):
            raise ValueError(f"unit: got {unit!r}, wanted 'word' or 'char'")
        self.vocabulary = tuple(vocabulary)
        self.unit = unit
        self.ids = {symbol: index for index, symbol in enumerate(self.vocabulary)}
        if isinstance(model, NumpyLanguageModel):
            self.model, self.engine, self._step = model, "numpy", model.step
            outputs = model.vocabulary_size
        else:
            self.model, self.engine, self._step = model.eval(), "torch", _torch_step(model)
            readout = getattr(model, "readout", None)
            outputs = getattr(readout, "out_features", len(self.vocabulary))
        if outputs != len(self.vocabulary):
            raise ValueError(
                f"vocabulary: got {len(self.vocabulary)} symbols for a model of {outputs} outputs"
            )
        # How the corpus spells a space and a line end (ptb-char: "_" and "<eos>").
        self.space = "_" if unit == "char" and " " not in self.ids and "_" in self.ids else " "
        self.line_end = EOS if EOS in self.ids else "\n" if "\n" in self.ids else None

    @classmethod
    def from_checkpoint(cls, checkpoint, engine: str = "auto") -> TextGenerator:
        """The model and vocabulary of a language-model checkpoint (a
        ``grukit.inference.registry.SavedCheckpoint``). ``engine``: "numpy" steps the model
        in NumPy, without importing torch (``grukit.inference.numpy_engine``: the gru, LSTM
        and tanh-RNN language models; ValueError for others), "torch" through the torch
        model's ``step()`` (any model), "auto" (the default) NumPy where it can. A
        checkpoint saved before the lm task stored its vocabulary gets it from its corpus,
        which is rebuilt the same way."""
        if engine not in ENGINES:
            raise ValueError(f"engine: got {engine!r}, wanted one of {', '.join(ENGINES)}")
        shape = checkpoint.model_shape
        why_not = (
            "no saved shape (an older checkpoint)"
            if shape is None
            else unsupported(checkpoint.config, shape)
        )
        if engine == "numpy" and why_not is not None:
            raise ValueError(
                f"engine: the model in {str(checkpoint.path)!r} has {why_not}; only the torch "
                "engine steps it (engine 'torch' or 'auto')"
            )
        if engine != "torch" and why_not is None:
            model = NumpyLanguageModel(checkpoint.arrays(), checkpoint.config["model"])
        else:
            model = checkpoint.model()
        preprocessing = checkpoint.preprocessing
        if "symbols" in preprocessing:
            vocabulary, unit = preprocessing["symbols"], preprocessing["unit"]
        else:
            corpus = load_corpus(checkpoint.config.get("data", {}).get("dataset", "ptb"))
            vocabulary, unit = corpus.vocabulary, corpus.unit
        return cls(model, vocabulary, unit)

    def predict(self, inputs) -> dict:
        raise ValueError(
            "predict: this checkpoint is a language model; grukit generate (or "
            "grukit.load(checkpoint).generate) samples text from it"
        )

    def wants(self) -> str:
        return (
            f"a {self.unit}-level language model of {len(self.vocabulary)} symbols; grukit "
            "generate samples text from it"
        )

    # Text <-> ids --------------------------------------------------------------------

    def symbols(self, text: str) -> tuple[list[str], list[str]]:
        """(the prompt's symbols as the corpus spells them, the tokens the vocabulary
        lacks, each once, in order); unknown words are already ``<unk>`` where it exists."""
        lines = text.replace("\r\n", "\n").split("\n")
        symbols, unknown = [], []
        for index, line in enumerate(lines):
            if index and (self.line_end is not None or self.unit == "char"):
                symbols.append(self.line_end or "\n")  # no line end: "\n" is unknown
            if self.unit == "word":
                symbols.extend(line.split())
            else:
                symbols.extend(self.space if c == " " else c for c in line)
        known = []
        for symbol in symbols:
            if symbol in self.ids:
                known.append(symbol)
                continue
            if symbol not in unknown:
                unknown.append(symbol)
            if self.unit == "word" and UNKNOWN_WORD in self.ids:
                known.append(UNKNOWN_WORD)
        return known, unknown

    def encode(self, prompt: str) -> list[int]:
        """The ids the model reads for ``prompt`` (module docstring), at least one: an
        empty prompt is one line end. ValueError for a prompt made only of tokens the
        vocabulary lacks; a warning names those left out of one that has others."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt: got {type(prompt).__name__}, wanted a str")
        known, unknown = self.symbols(prompt)
        shown = ", ".join(repr(s) for s in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
        what = "characters" if self.unit == "char" else "words"
        if unknown and not known:
            raise ValueError(
                f"prompt: none of its {what} is in the model's vocabulary ({shown}); it knows "
                f"{len(self.vocabulary)}: {self.vocabulary_summary()}"
            )
        if unknown and (self.unit == "char" or UNKNOWN_WORD not in self.ids):
            warnings.warn(
                f"prompt: left out {what} the model's vocabulary lacks: {shown}", stacklevel=3
            )
        if not known:
            if self.line_end is None:
                raise ValueError(
                    "prompt: empty, and the vocabulary has no line end to start from; give one"
                )
            known = [self.line_end]
        return [self.ids[symbol] for symbol in known]

    def vocabulary_summary(self, limit: int = 60) -> str:
        """The first ``limit`` symbols as the corpus spells them, space-separated."""
        shown = " ".join(repr(s)[1:-1] for s in self.vocabulary[:limit])
        return shown + (" ..." if len(self.vocabulary) > limit else "")

    def display(self, symbol: str, previous: str | None) -> str:
        """The text of ``symbol`` after ``previous`` (None: at the start): a line end is a
        line break, ``_`` a space (character models); a word after a word gets a space."""
        if symbol == self.line_end:
            return "\n"
        if self.unit == "char":
            return " " if symbol == self.space else symbol
        return symbol if previous is None or previous == self.line_end else " " + symbol

    def decode(self, ids, previous: int | None = None) -> str:
        """Ids -> text, ``previous`` the id before them (None: they start the text)."""
        pieces = []
        last = None if previous is None else self.vocabulary[previous]
        for index in ids:
            symbol = self.vocabulary[int(index)]
            pieces.append(self.display(symbol, last))
            last = symbol
        return "".join(pieces)

    # Sampling ------------------------------------------------------------------------

    def sample_ids(
        self, prompt_ids: list[int], config: GenerationConfig | None = None, **options
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(id, logits (V,) float32 it was drawn from) for each of ``config.tokens`` sampled
        tokens after ``prompt_ids`` (>= 1 ids), the state carried through the model's step.
        ``options``: fields of ``config`` to change."""
        config = self._config(config, options)
        prompt_ids = [int(i) for i in prompt_ids]
        if not prompt_ids or not all(0 <= i < len(self.vocabulary) for i in prompt_ids):
            raise ValueError(
                f"prompt_ids: got {prompt_ids[:10]}, wanted at least one id in "
                f"[0, {len(self.vocabulary)})"
            )
        return self._sample_ids(prompt_ids, config, make_rng(config.seed))

    @staticmethod
    def _config(config: GenerationConfig | None, options: dict) -> GenerationConfig:
        config = generation_config(config, **options)
        if config.num_beams != 1:
            raise ValueError(
                f"num_beams: got {config.num_beams}; a language model samples (num_beams 1)"
            )
        return config

    def _sample_ids(self, prompt_ids, config: GenerationConfig, rng):
        if config.tokens == 0:
            return
        state = None
        for index in prompt_ids:
            logits, state = self._step(index, state)
        for count in range(config.tokens):
            row = logits.astype(np.float64)
            check_finite(row)
            index = draw(row, config, rng)
            yield index, logits
            if count + 1 < config.tokens:
                logits, state = self._step(index, state)

    def stream(
        self, prompt: str = "", config: GenerationConfig | None = None, **options
    ) -> Iterator[str]:
        """The text of each sampled token as it is sampled (the prompt not included;
        ``decode(encode(prompt))`` is how the model read it). Options are checked, and
        the prompt encoded, here, before the first token."""
        config = self._config(config, options)
        prompt_ids = self.encode(prompt)
        return self._pieces(self.sample_ids(prompt_ids, config), prompt_ids[-1])

    def _pieces(self, ids, previous: int) -> Iterator[str]:
        for index, _ in ids:
            yield self.decode([index], previous)
            previous = index

    def generate(self, prompt: str = "", config: GenerationConfig | None = None, **options) -> str:
        """The prompt as the model read it followed by ``config.tokens`` sampled tokens, as
        text (an empty prompt's starting line end not shown)."""
        pieces = self.stream(prompt, config, **options)
        return self.prompt_text(prompt) + "".join(pieces)

    def prompt_text(self, prompt: str) -> str:
        """The prompt as the model reads it, as text ("" for an empty one)."""
        known, _ = self.symbols(prompt)
        return self.decode([self.ids[s] for s in known])


def _torch_step(model):
    """``(id, state) -> (logits (V,) float32 NumPy, state)`` through a torch model's
    ``step()`` (torch imported here, not with this module)."""
    import torch

    device = next(model.parameters(), torch.empty(0)).device

    @torch.no_grad()
    def step(index: int, state):
        logits, state = model.step(torch.tensor([index], device=device), state)
        return logits[0].float().cpu().numpy(), state

    return step
