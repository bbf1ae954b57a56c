r"""Text from a trained language model (``grukit train --task lm``), one token at a time.

>>> generator = grukit.generation.load_generator("runs/ptb-char-gru-256/best")
>>> for piece in generator.stream("the company said", tokens=200, top_p=0.9, seed=0):
...     print(piece, end="", flush=True)
>>> text = generator.generate("the company said", tokens=200, seed=0)  # prompt + continuation

The prompt goes through the model's ``step()`` one token at a time from the zero state,
and so does every sampled token: the recurrent state is carried, the prefix is never run
again. Two engines step it: NumPy (``grukit.numpy_lm``: gru, LSTM and tanh-RNN language
models, without importing torch, so that ``grukit generate`` prints its first token well
within a second) and torch (any model: the fused streaming path, ``grukit.Stream``, for
a grukit layer); ``load_generator(path, engine="auto")`` takes NumPy where it can. Step
t's logits z_t (V,) are the model's read-out after the token at t; the next token is
drawn from them.

Sampling one token from logits z (V,), in this order (``sampling_probabilities``):

1. temperature T > 0: p_i = exp(z_i / T) / sum_j exp(z_j / T). T < 1 sharpens, T > 1
   flattens; as T -> 0, p tends to the argmax, and any T <= ``GREEDY_TEMPERATURE`` (1e-4)
   *is* greedy decoding exactly: the argmax of z (the lowest id among equal maxima),
   whatever top-k and top-p say (the argmax is in both their sets). The random generator
   is not drawn from then.
2. top-k (k >= 1): only the k tokens of largest z are kept (equal logits: the lower id
   first), p renormalised over them. It does not depend on T.
3. top-p, nucleus sampling (0 < p <= 1; Holtzman et al. 2020): the tokens, by decreasing
   probability after steps 1-2 (ties: the lower id first), are kept up to and including
   the first one at which the cumulative probability reaches p: the smallest such set,
   never empty (the most probable token is always kept); p = 1 keeps every token. p is
   renormalised over the set. Top-p after top-k means "the nucleus of the k best".
4. the token is drawn from what is left by inverse-CDF sampling: one uniform draw u from
   a NumPy Generator (``numpy.random.default_rng(seed)``), the first token (in the order
   above, or by id when nothing was cut) whose cumulative probability exceeds u. The same
   seed gives the same text, whatever the global generators did, and whichever engine
   steps the model (below).

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

import math
import numbers
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from grukit.data.corpora import EOS, load_corpus
from grukit.numpy_lm import NumpyLanguageModel, unsupported

GREEDY_TEMPERATURE = 1e-4  # temperatures at or below it decode greedily (argmax) exactly
UNKNOWN_WORD = "<unk>"


def check_sampling(
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> None:
    """ValueError naming the first sampling option out of its range (module docstring)."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"temperature: got {temperature!r}, wanted a finite number > 0 (up to "
            f"{GREEDY_TEMPERATURE:g}: greedy decoding, the argmax)"
        )
    if top_k is not None and (
        isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1
    ):
        raise ValueError(f"top_k: got {top_k!r}, wanted an int >= 1 (or None: every token)")
    if top_p is not None and (
        isinstance(top_p, bool)
        or not isinstance(top_p, numbers.Real)
        or not 0 < top_p <= 1  # also refuses NaN
    ):
        raise ValueError(f"top_p: got {top_p!r}, wanted a number in (0, 1] (or None: 1)")


def sampling_probabilities(
    logits,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """The distribution a token is drawn from: logits (..., V) (an array or a CPU tensor)
    -> probabilities (..., V), float64, zero outside the kept set, each row summing to 1
    (module docstring: steps 1-3). At ``temperature <= GREEDY_TEMPERATURE`` it is one-hot
    on the argmax."""
    rows = _checked_rows(logits, temperature, top_k, top_p)
    dense = np.zeros_like(rows)
    for row, out in zip(rows, dense):
        if temperature <= GREEDY_TEMPERATURE:
            out[row.argmax()] = 1.0
            continue
        ids, probabilities = _distribution(row / temperature, top_k, top_p)
        if ids is None:
            out[:] = probabilities
        else:
            out[ids] = probabilities
    return dense.reshape(np.shape(logits))


def sample_token(
    logits,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """One token id per row: logits (..., V) -> ids (...,) int64, drawn from
    ``sampling_probabilities`` with ``rng`` (a NumPy Generator, or a seed for one; None: a
    fresh one); the argmax, without a draw, at ``temperature <= GREEDY_TEMPERATURE``."""
    rows = _checked_rows(logits, temperature, top_k, top_p)
    rng = make_rng(rng)
    ids = [_draw(row, temperature, top_k, top_p, rng) for row in rows]
    return np.array(ids, dtype=np.int64).reshape(np.shape(logits)[:-1])


def _checked_rows(logits, temperature, top_k, top_p) -> np.ndarray:
    """(N, V) float64 rows of logits (..., V), the options and the values checked."""
    check_sampling(temperature, top_k, top_p)
    try:
        array = np.asarray(logits)
    except (TypeError, RuntimeError):  # e.g. a tensor that requires grad, or on a GPU
        array = None
    if array is None or array.dtype.kind != "f" or array.ndim < 1:
        shape = np.shape(array) if array is not None else type(logits).__name__
        raise ValueError(f"logits: got {shape}, wanted a float array or CPU tensor (..., V)")
    if array.shape[-1] < 1:
        raise ValueError(f"logits: got {array.shape}, wanted (..., V >= 1)")
    rows = array.astype(np.float64).reshape(-1, array.shape[-1])
    _check_finite(rows)
    return rows


def _check_finite(logits: np.ndarray) -> None:
    # The largest logit of a row is NaN if any is (max propagates NaN), +inf if one is,
    # -inf if all are: one reduction finds all three.
    if not np.isfinite(logits.max(-1)).all():
        raise ValueError(
            "logits: got NaN, +inf, or a row of -inf only; are the model's weights finite?"
        )


def _largest(scaled: np.ndarray, size: int) -> np.ndarray:
    """Ids of the ``size`` largest of ``scaled`` (V,) and of any equal to the smallest of
    them, by decreasing value, equal values by increasing id."""
    if size >= scaled.shape[0]:
        candidates = np.arange(scaled.shape[0])
    else:  # a partial selection first: a full sort of a large vocabulary costs ~0.5 ms
        threshold = np.partition(scaled, -size)[-size]
        candidates = np.flatnonzero(scaled >= threshold)  # increasing ids
    order = np.argsort(-scaled[candidates], kind="stable")
    return candidates[order]


def _distribution(
    scaled: np.ndarray, top_k: int | None, top_p: float | None
) -> tuple[np.ndarray | None, np.ndarray]:
    """(ids (m,), their probabilities (m,)) that steps 2-3 keep from logits / T ``scaled``
    (V,) float64, by decreasing probability; (None, all V probabilities) when neither
    filters anything."""
    vocabulary = scaled.shape[0]
    probabilities = np.exp(scaled - scaled.max())
    probabilities /= probabilities.sum()
    top_k = None if top_k is not None and top_k >= vocabulary else top_k
    top_p = None if top_p is not None and top_p >= 1 else top_p
    if top_k is None and top_p is None:
        return None, probabilities
    size = top_k or min(vocabulary, 64)
    while True:
        ids = _largest(scaled, size)
        if top_k is not None:
            ids = ids[:top_k]
            kept = probabilities[ids] / probabilities[ids].sum()
        else:
            kept = probabilities[ids]
        # Done when the nucleus cannot reach past these ids: top-k bounds it, or they hold
        # the mass p already (every token after them comes later in the order).
        if top_p is None or top_k is not None or len(ids) == vocabulary or kept.sum() >= top_p:
            break
        size = min(vocabulary, size * 4)
    if top_p is None:
        return ids, kept
    before = np.concatenate([[0.0], np.cumsum(kept)[:-1]])  # the mass ahead of each token
    keep = before < top_p  # the top token always stays
    return ids[keep], kept[keep] / kept[keep].sum()


def _draw(logits: np.ndarray, temperature: float, top_k, top_p, rng: np.random.Generator) -> int:
    """One id from float64 logits (V,) whose options and values are already checked:
    inverse-CDF sampling, one uniform draw."""
    if temperature <= GREEDY_TEMPERATURE:
        return int(logits.argmax())
    ids, probabilities = _distribution(logits / temperature, top_k, top_p)
    cumulative = np.cumsum(probabilities)
    u = rng.random() * cumulative[-1]
    index = int(np.searchsorted(cumulative, u, side="right"))  # first with cumulative > u
    if index == len(cumulative):  # u rounded up to the total: the last token of mass > 0
        index = int(np.flatnonzero(probabilities).max())
    return index if ids is None else int(ids[index])


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator: ``seed``'s, the given one, or (None) a freshly seeded one."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed: got {seed!r}, wanted an int, a numpy.random.Generator or None")
    if seed is not None and seed < 0:
        raise ValueError(f"seed: got {seed!r}, wanted an int >= 0")
    return np.random.default_rng(None if seed is None else int(seed))


ENGINES = ("auto", "numpy", "torch")


class TextGenerator:
    """A language model with its vocabulary: prompt text in, sampled text out.

    ``model``: a torch model with ``step(ids (1,), state) -> (logits (1, V), state)`` (a
    ``grukit.models.StepReadout`` over an embedding), or a
    :class:`grukit.numpy_lm.NumpyLanguageModel`; ``vocabulary``: id -> symbol, V of them;
    ``unit``: ``"word"`` or ``"char"``, how text is cut into symbols (module docstring)."""

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
    def from_checkpoint(cls, path: str | Path, engine: str = "auto") -> TextGenerator:
        """The model and vocabulary of a language-model checkpoint folder (a run's
        ``best/`` or ``last/``). ``engine``: "numpy" steps the model in NumPy, without
        importing torch (``grukit.numpy_lm``: the gru, LSTM and tanh-RNN language models;
        ValueError for others), "torch" through the torch model's ``step()`` (any model),
        "auto" (the default) NumPy where it can. A checkpoint saved before the lm task
        stored its vocabulary gets it from its corpus, which is rebuilt the same way."""
        from grukit.train.checkpoint import read_checkpoint

        if engine not in ENGINES:
            raise ValueError(f"engine: got {engine!r}, wanted one of {', '.join(ENGINES)}")
        if engine == "torch":  # the checkpoint read once, by load
            predictor = _torch_predictor(path)
            config = predictor.config
            extra = {"preprocessing": predictor.preprocessing}
            model = predictor.model
        else:
            tensors, state = read_checkpoint(path, framework="np", prefix="model.")
            config, extra = state.get("config", {}), state.get("extra") or {}
            model = None
        task = config.get("task")
        if task != "lm":
            raise ValueError(
                f"checkpoint: {str(path)!r} holds a model of task {task!r}, wanted a language "
                "model (grukit train --task lm)"
            )
        if model is None:
            shape = extra.get("model_shape")
            why_not = (
                "no saved shape (an older checkpoint)"
                if shape is None
                else unsupported(config, shape)
            )  # (without its shape, grukit.inference.load refuses it, saying why)
            if engine == "numpy" and why_not is not None:
                raise ValueError(
                    f"engine: the model in {str(path)!r} has {why_not}; only the torch engine "
                    "steps it (engine 'torch' or 'auto')"
                )
            if why_not is None:
                weights = {name[len("model.") :]: array for name, array in tensors.items()}
                model = NumpyLanguageModel(weights, config["model"])
            else:  # auto, a model NumPy cannot step: read again, as torch tensors
                model = _torch_predictor(path).model
        preprocessing = extra.get("preprocessing") or {}
        if "symbols" in preprocessing:
            vocabulary, unit = preprocessing["symbols"], preprocessing["unit"]
        else:
            corpus = load_corpus(config.get("data", {}).get("dataset", "ptb"))
            vocabulary, unit = corpus.vocabulary, corpus.unit
        return cls(model, vocabulary, unit)

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
        self,
        prompt_ids: list[int],
        tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(id, logits (V,) float32 it was drawn from) for each of ``tokens`` sampled tokens
        after ``prompt_ids`` (>= 1 ids), the state carried through the model's step."""
        check_generation(tokens, temperature, top_k, top_p)
        prompt_ids = [int(i) for i in prompt_ids]
        if not prompt_ids or not all(0 <= i < len(self.vocabulary) for i in prompt_ids):
            raise ValueError(
                f"prompt_ids: got {prompt_ids[:10]}, wanted at least one id in "
                f"[0, {len(self.vocabulary)})"
            )
        rng = make_rng(seed)
        return self._sample_ids(prompt_ids, tokens, temperature, top_k, top_p, rng)

    def _sample_ids(self, prompt_ids, tokens, temperature, top_k, top_p, rng):
        if tokens == 0:
            return
        state = None
        for index in prompt_ids:
            logits, state = self._step(index, state)
        for count in range(tokens):
            row = logits.astype(np.float64)
            _check_finite(row)
            index = _draw(row, temperature, top_k, top_p, rng)
            yield index, logits
            if count + 1 < tokens:
                logits, state = self._step(index, state)

    def stream(
        self,
        prompt: str = "",
        tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> Iterator[str]:
        """The text of each sampled token as it is sampled (the prompt not included;
        ``decode(encode(prompt))`` is how the model read it). Options are checked, and
        the prompt encoded, here, before the first token."""
        check_generation(tokens, temperature, top_k, top_p)
        prompt_ids = self.encode(prompt)
        ids = self.sample_ids(prompt_ids, tokens, temperature, top_k, top_p, seed)
        return self._pieces(ids, prompt_ids[-1])

    def _pieces(self, ids, previous: int) -> Iterator[str]:
        for index, _ in ids:
            yield self.decode([index], previous)
            previous = index

    def generate(
        self,
        prompt: str = "",
        tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> str:
        """The prompt as the model read it followed by ``tokens`` sampled tokens, as text
        (an empty prompt's starting line end not shown)."""
        pieces = self.stream(prompt, tokens, temperature, top_k, top_p, seed)
        return self.prompt_text(prompt) + "".join(pieces)

    def prompt_text(self, prompt: str) -> str:
        """The prompt as the model reads it, as text ("" for an empty one)."""
        known, _ = self.symbols(prompt)
        return self.decode([self.ids[s] for s in known])


def check_generation(
    tokens: int, temperature: float, top_k: int | None, top_p: float | None
) -> None:
    """ValueError for a token count that is not an int >= 0, or sampling options out of
    range."""
    if isinstance(tokens, bool) or not isinstance(tokens, numbers.Integral) or tokens < 0:
        raise ValueError(f"tokens: got {tokens!r}, wanted an int >= 0")
    check_sampling(temperature, top_k, top_p)


def load_generator(path: str | Path, engine: str = "auto") -> TextGenerator:
    """A :class:`TextGenerator` of a language-model checkpoint folder (``engine``: see
    ``TextGenerator.from_checkpoint``); CheckpointError (a ValueError) for a missing or
    damaged one, ValueError for another task's."""
    return TextGenerator.from_checkpoint(path, engine)


def _torch_predictor(path: str | Path):
    """``grukit.inference.load(path)``, imported here: it imports torch."""
    from grukit.inference import load

    return load(path)


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
