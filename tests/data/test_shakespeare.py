"""The bundled Shakespeare corpus: its counts, splits of whole works, text that decodes
back, and the bundled file's hash as SOURCES.md records it."""

from __future__ import annotations

import hashlib
from collections import Counter
from importlib import resources

import numpy as np

from grukit.data.corpora import (
    CORPORA,
    EOS,
    SHAKESPEARE_FILE,
    load_corpus,
    shakespeare,
    shakespeare_text,
    shakespeare_works,
)

HELD_OUT = {
    "valid": {"julius_caesar", "twelfth_night"},
    "test": {"macbeth", "much_ado_about_nothing"},
}


def test_counts_and_vocabulary():
    corpus = load_corpus("shakespeare")
    assert "shakespeare" in CORPORA and corpus.name == "shakespeare" and corpus.unit == "char"
    sizes = {split: len(ids) for split, ids in corpus.splits.items()}
    assert sizes == {"train": 4_595_543, "valid": 230_987, "test": 225_661}
    assert len(corpus.vocabulary) == 81
    assert corpus.vocabulary[:3] == (" ", "e", "t") and "\n" in corpus.vocabulary
    # every symbol one character; no <eos> and no "_" (decode would read it as a space)
    assert all(len(symbol) == 1 for symbol in corpus.vocabulary)
    assert EOS not in corpus.vocabulary and "_" not in corpus.vocabulary
    assert all(ids.dtype == np.int64 for ids in corpus.splits.values())


def test_ids_follow_the_train_counts():
    corpus = shakespeare()
    counts = Counter(shakespeare_text()["train"])
    assert corpus.vocabulary == tuple(sorted(counts, key=lambda c: (-counts[c], c)))
    used = {split: set(np.unique(ids).tolist()) for split, ids in corpus.splits.items()}
    assert used["train"] == set(range(81))
    assert used["valid"] <= used["train"] and used["test"] <= used["train"]


def test_the_splits_are_disjoint_whole_works():
    works = shakespeare_works()
    names = {split: set(split_works) for split, split_works in works.items()}
    assert names["valid"] == HELD_OUT["valid"] and names["test"] == HELD_OUT["test"]
    assert len(names["train"]) == 38 and not names["train"] & (HELD_OUT["valid"] | HELD_OUT["test"])
    assert {"hamlet", "sonnets", "tempest"} <= names["train"]
    texts = shakespeare_text()
    for split, split_works in works.items():
        # two blank lines part two works, and no work holds them
        assert texts[split].count("\n\n\n") == len(split_works) - 1
        assert all(text.endswith("\n") and "\n\n\n" not in text for text in split_works.values())
    for split in ("valid", "test"):
        for name, text in works[split].items():
            title = text.split("\n", 1)[0]
            assert f"{title}\n\nby William Shakespeare" not in texts["train"], name
            assert text[2000:2400] not in texts["train"], name


def test_ids_decode_back_to_the_text():
    corpus, texts = shakespeare(), shakespeare_text()
    for split in ("valid", "test"):
        assert corpus.decode(corpus.splits[split]) == texts[split]
    assert corpus.decode(corpus.splits["train"][:50_000]) == texts["train"][:50_000]
    assert texts["test"].startswith("MACBETH\n\nby William Shakespeare\n\nPersons Represented\n")


def test_known_lines_are_in_their_splits():
    texts = shakespeare_text()
    lines = {
        "To be, or not to be,--that is the question:--\n": "train",
        "Now is the winter of our discontent\n": "train",
        "Friends, Romans, countrymen, lend me your ears;\n": "valid",
        "If music be the food of love, play on,\n": "valid",
        "To-morrow, and to-morrow, and to-morrow,\n": "test",
        "   Sigh no more, ladies, sigh no more,\n": "test",  # a song keeps its indent
    }
    for line, split in lines.items():
        assert [name for name, text in texts.items() if line in text] == [split], line


def test_the_bundled_file_is_the_one_sources_records():
    bundled = resources.files("grukit.data.bundled")
    digest = hashlib.sha256(bundled.joinpath(SHAKESPEARE_FILE).read_bytes()).hexdigest()
    assert f"`{digest}`" in bundled.joinpath("SOURCES.md").read_text("utf-8")
