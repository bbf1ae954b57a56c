"""Text to token ids: a tokenizer for short informal English, a vocabulary that is saved
with a checkpoint, and padding of id sequences.

Ids: PAD = 0 (padding, never a token), UNKNOWN = 1 (any token the vocabulary lacks),
2.. the vocabulary's tokens, most frequent first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from grukit.data.batching import pad_sequences

PAD, UNKNOWN = 0, 1
TOKEN = re.compile(r"https?://\S+|@\w+|#\w+|\d[\d,.:]*|\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words (with inner apostrophes), hashtags, single punctuation marks, and
    ``<url>``, ``<user>``, ``<num>`` for links, mentions and numbers:
    ``"@united Flight 1180 cancelled!! http://t.co/x"`` -> ``["<user>", "flight",
    "<num>", "cancelled", "!", "!", "<url>"]``."""
    tokens = []
    for token in TOKEN.findall(text.lower()):
        if token.startswith("http"):
            token = "<url>"
        elif token.startswith("@") and len(token) > 1:
            token = "<user>"
        elif token[0].isdigit():
            token = "<num>"
        tokens.append(token)
    return tokens


class Vocabulary:
    """Token <-> id for ``tokens`` (ids 2, 3, ... in their order); PAD = 0, UNKNOWN = 1."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = list(tokens)
        self.ids = {token: index + 2 for index, token in enumerate(self.tokens)}
        if len(self.ids) != len(self.tokens):
            raise ValueError("tokens: got a list with repeats, wanted each token once")

    @classmethod
    def build(cls, token_lists: list[list[str]], min_count: int = 1) -> Vocabulary:
        """The tokens seen ``min_count`` times or more in ``token_lists`` (the training
        texts), most frequent first (ties in order of first appearance)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: -counts[t])
        return cls(kept)

    def __len__(self) -> int:
        return len(self.ids) + 2

    def encode(self, tokens: list[str]) -> np.ndarray:
        """(T,) int64 ids; an empty text still gets one step (UNKNOWN), so every sequence
        has a state to pool."""
        return np.array([self.ids.get(t, UNKNOWN) for t in tokens] or [UNKNOWN], dtype=np.int64)

    def to_dict(self) -> dict:
        return {"tokens": self.tokens}

    @classmethod
    def from_dict(cls, values: dict) -> Vocabulary:
        return cls(values["tokens"])


def pad_ids(sequences: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
    """[(T_i,) int ids, ...] -> ids (max T_i, B) int64 padded with PAD, lengths (B,)."""
    ids, lengths = pad_sequences([np.asarray(s)[:, None] for s in sequences], torch.int64)
    return ids[..., 0], lengths


def read_texts(path) -> list[str]:
    """The texts of a file: one per non-blank line of a .txt file, or a .csv's 'text'
    column."""
    import csv
    from pathlib import Path

    path = Path(path)
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "text" not in rows[0]:
            raise ValueError(f"data: {path.name!r} has no 'text' column")
        return [row["text"] for row in rows]
    return [line for line in path.read_text().splitlines() if line.strip()]
