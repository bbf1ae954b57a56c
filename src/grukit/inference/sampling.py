r"""Choosing each next token from a model's logits, driven by one :class:`GenerationConfig`
(the options Hugging Face's ``generate`` takes as a ``GenerationConfig``: a token budget,
temperature, top-k, top-p and a seed; beams and a length penalty are fields already, for
the decoders that search).

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

Shape legend: V vocabulary size; N rows (any leading dimensions flattened).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace

import numpy as np

from grukit.config import option

GREEDY_TEMPERATURE = 1e-4  # temperatures at or below it decode greedily (argmax) exactly


@dataclass(frozen=True)
class GenerationConfig:
    """How tokens are chosen: how many, and from what distribution (module docstring).
    Checked when made: a ValueError names the first option out of its range."""

    tokens: int = option(200, "tokens to generate after the prompt (the budget)")
    temperature: float = option(
        1.0, "> 0; below 1 sharper, above 1 flatter; <= 1e-4: greedy (the argmax)"
    )
    top_k: int | None = option(None, "sample among the K most probable tokens (default: all)")
    top_p: float | None = option(
        None, "sample among the fewest tokens holding probability P (default: all)"
    )
    seed: int | None = option(None, "random seed (default: a fresh one)")
    num_beams: int = option(1, "beams kept by a search decoder (1: none; sampling takes 1)")
    length_penalty: float = option(
        1.0, "beam search: a hypothesis' score is its log-probability / length^alpha"
    )

    def __post_init__(self) -> None:
        tokens = self.tokens
        if isinstance(tokens, bool) or not isinstance(tokens, numbers.Integral) or tokens < 0:
            raise ValueError(f"tokens: got {tokens!r}, wanted an int >= 0")
        check_sampling(self.temperature, self.top_k, self.top_p)
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, numbers.Integral)
            or self.seed < 0
        ):
            raise ValueError(f"seed: got {self.seed!r}, wanted an int >= 0 (or None)")
        beams = self.num_beams
        if isinstance(beams, bool) or not isinstance(beams, numbers.Integral) or beams < 1:
            raise ValueError(f"num_beams: got {beams!r}, wanted an int >= 1")
        if not (
            isinstance(self.length_penalty, numbers.Real)
            and not isinstance(self.length_penalty, bool)
            and math.isfinite(self.length_penalty)
        ):
            raise ValueError(f"length_penalty: got {self.length_penalty!r}, wanted a number")

    @property
    def greedy(self) -> bool:
        """Whether the temperature makes decoding the argmax (no draw)."""
        return self.temperature <= GREEDY_TEMPERATURE

    def updated(self, **options) -> GenerationConfig:
        """A copy with ``options`` changed (None = unchanged), checked again."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})

    def to_dict(self) -> dict:
        return asdict(self)


def generation_config(config: GenerationConfig | None = None, **options) -> GenerationConfig:
    """``config`` (default: the defaults) with ``options`` (its fields by name) applied,
    as Hugging Face's ``generate(generation_config, **kwargs)`` does; unknown names are a
    ValueError naming them."""
    config = config if config is not None else GenerationConfig()
    if not isinstance(config, GenerationConfig):
        raise ValueError(f"config: got {type(config).__name__}, wanted a GenerationConfig")
    unknown = sorted(set(options) - set(config.to_dict()))
    if unknown:
        raise ValueError(
            f"generation options: unknown {', '.join(unknown)}; wanted some of "
            f"{', '.join(config.to_dict())}"
        )
    return replace(config, **options) if options else config


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


def sampling_probabilities(logits, config: GenerationConfig | None = None, **options) -> np.ndarray:
    """The distribution a token is drawn from: logits (..., V) (an array or a CPU tensor)
    -> probabilities (..., V), float64, zero outside the kept set, each row summing to 1
    (module docstring: steps 1-3). Greedy (``temperature <= GREEDY_TEMPERATURE``): one-hot
    on the argmax. ``options``: fields of ``config`` to change."""
    config = generation_config(config, **options)
    rows = checked_rows(logits)
    dense = np.zeros_like(rows)
    for row, out in zip(rows, dense):
        if config.greedy:
            out[row.argmax()] = 1.0
            continue
        ids, probabilities = _distribution(row / config.temperature, config.top_k, config.top_p)
        if ids is None:
            out[:] = probabilities
        else:
            out[ids] = probabilities
    return dense.reshape(np.shape(logits))


def sample_token(
    logits,
    config: GenerationConfig | None = None,
    rng: np.random.Generator | int | None = None,
    **options,
) -> np.ndarray:
    """One token id per row: logits (..., V) -> ids (...,) int64, drawn from
    ``sampling_probabilities`` with ``rng`` (a NumPy Generator, or a seed for one; None:
    ``config.seed``'s); the argmax, without a draw, when greedy."""
    config = generation_config(config, **options)
    rows = checked_rows(logits)
    rng = make_rng(config.seed if rng is None else rng)
    ids = [draw(row, config, rng) for row in rows]
    return np.array(ids, dtype=np.int64).reshape(np.shape(logits)[:-1])


def checked_rows(logits) -> np.ndarray:
    """(N, V) float64 rows of logits (..., V), the values checked finite."""
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
    check_finite(rows)
    return rows


def check_finite(logits: np.ndarray) -> None:
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


def draw(logits: np.ndarray, config: GenerationConfig, rng: np.random.Generator) -> int:
    """One id from float64 logits (V,) already checked finite: inverse-CDF sampling, one
    uniform draw (none when greedy)."""
    if config.greedy:
        return int(logits.argmax())
    ids, probabilities = _distribution(logits / config.temperature, config.top_k, config.top_p)
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
