"""Labelled variable-length sequences: the bundled speech sets, a user's files (and every
way they can be malformed), the stratified split and the training-only scaling."""

from __future__ import annotations

import numpy as np
import pytest

from grukit.cli import main
from grukit.data.sequences import (
    LabelledSequences,
    MalformedData,
    from_concatenated,
    load_bundled_splits,
    load_sequence_file,
    stratified_split,
)


def test_spoken_digits_as_documented():
    data = load_bundled_splits("spoken_digits")["all"]
    assert len(data) == 3000
    assert {s.shape[1] for s in data.sequences} == {13}
    assert data.lengths.min() == 6 and data.lengths.max() == 92
    assert np.bincount(data.labels).tolist() == [300] * 10


def test_japanese_vowels_official_split():
    splits = load_bundled_splits("japanese_vowels")
    assert set(splits) == {"train", "test"}
    assert np.bincount(splits["train"].labels).tolist() == [30] * 9
    assert np.bincount(splits["test"].labels).tolist() == [31, 35, 88, 44, 29, 24, 40, 50, 29]
    lengths = np.concatenate([splits["train"].lengths, splits["test"].lengths])
    assert lengths.min() == 7 and lengths.max() == 29
    assert {s.shape[1] for part in splits.values() for s in part.sequences} == {12}
    # The first training utterance starts as in the UCI file (ae.train, first line).
    np.testing.assert_allclose(splits["train"].sequences[0][0, :3], [1.860936, -0.207383, 0.261557])


def test_concatenated_and_padded_layouts_cut_the_same_sequences():
    frames = np.arange(12, dtype=np.float32).reshape(6, 2)
    cut = from_concatenated(frames, np.array([2, 4]), np.array([1, 0]))
    assert [s.tolist() for s in cut.sequences] == [frames[:2].tolist(), frames[2:].tolist()]
    padded = np.zeros((2, 4, 2), dtype=np.float32)
    padded[0, :2], padded[1] = frames[:2], frames[2:]
    again = from_concatenated(padded, np.array([2, 4]), np.array([1, 0]))
    assert all(np.array_equal(a, b) for a, b in zip(cut.sequences, again.sequences))
    assert cut.labels.tolist() == [1, 0]


def test_csv_reads_like_npz(tmp_path):
    rows = ["sequence,label,a,b", "s1,1,0.5,1", "s1,1,1.5,2", "s2,0,3,4"]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    data = load_sequence_file(tmp_path / "mine.csv")
    assert data.labels.tolist() == [1, 0]
    assert [s.tolist() for s in data.sequences] == [[[0.5, 1], [1.5, 2]], [[3, 4]]]


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


FRAMES = np.ones((5, 3), dtype=np.float32)


@pytest.mark.parametrize(
    "arrays, extra, message",
    [
        (
            {
                "features": np.array([np.ones((2, 3)), np.ones((3, 3))], dtype=object),
                "labels": np.array([0, 1]),
            },
            [],
            "ragged (object) array",
        ),
        ({"features": FRAMES, "labels": np.array([0, 1])}, [], "no 'lengths' array"),
        (
            {
                "features": np.where(np.eye(5, 3) > 0, np.nan, 1),
                "lengths": np.array([2, 3]),
                "labels": np.array([0, 1]),
            },
            [],
            "sequence 0 holds NaN",
        ),
        (
            {"features": FRAMES, "lengths": np.array([2, 3]), "labels": np.array([0, 2])},
            ["--classes", "2"],
            "label 2 is out of range for 2 classes",
        ),
        (
            {"features": FRAMES, "lengths": np.array([2, 3]), "labels": np.array([-1, 0])},
            [],
            "label -1 is out of range",
        ),
        (
            {"features": FRAMES, "lengths": np.array([2, 2]), "labels": np.array([0, 1])},
            [],
            "lengths add up to 4 frames but features has 5",
        ),
        (
            {"features": FRAMES, "lengths": np.array([2, 3]), "labels": np.array([0.5, 1])},
            [],
            "labels must be whole numbers",
        ),
    ],
)
def test_malformed_npz_is_one_line(arrays, extra, message, tmp_path, capsys):
    path = write_npz(tmp_path / "bad.npz", **arrays)
    argv = ["train", "--task", "classify", "--data", path, *extra, f"--out={tmp_path / 'run'}"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("grukit train: bad.npz:") and message in error, error
    assert "\n" not in error
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "rows, message",
    [
        (["id,label,a", "s1,0,1"], "must name a 'sequence' and a 'label' column"),
        (["sequence,label,a", "s1,0,1", "s1,1,2"], "sequence 's1' has more than one label"),
        (["sequence,label,a", "s1,0,x"], "line 2, column 'a': 'x' is not a number"),
        (["sequence,label,a", "s1,0,1", "s2,0,1", "s1,0,1"], "must be together"),
        (["sequence,label,a", "s1,0,nan"], "holds NaN"),
    ],
)
def test_malformed_csv_is_one_line(rows, message, tmp_path):
    (tmp_path / "bad.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(MalformedData, match=message):
        load_sequence_file(tmp_path / "bad.csv")


def test_missing_or_unknown_files(tmp_path, capsys):
    assert main(["train", "--task", "classify", "--data", str(tmp_path / "none.npz")]) == 2
    assert "is not a file" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(MalformedData, match="neither .npz nor .csv"):
        load_sequence_file(tmp_path / "x.txt")
    assert main(["train", "--task", "classify"]) == 2
    assert "give --data FILE" in capsys.readouterr().err


def test_stratified_split_counts_and_disjointness():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    parts = stratified_split(labels, {"train": 1.0, "valid": 0.1, "test": 0.2}, seed=3)
    assert [np.bincount(labels[parts["valid"]]).tolist()] == [[5, 3, 2]]
    assert np.bincount(labels[parts["test"]]).tolist() == [10, 6, 4]
    everything = np.concatenate(list(parts.values()))
    assert sorted(everything.tolist()) == list(range(100))
    again = stratified_split(labels, {"train": 1.0, "valid": 0.1, "test": 0.2}, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_scaler_uses_training_frames_only():
    from grukit.data.scaling import StandardScaler
    from grukit.tasks.classification.base import scale_sequences

    rng = np.random.default_rng(0)
    train = [rng.normal(5, 2, (n, 3)).astype(np.float32) for n in (4, 7)]
    scale = StandardScaler.fit(train)
    frames = np.concatenate(train)
    np.testing.assert_allclose(scale.mean, frames.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale.std, frames.std(0), rtol=1e-6)
    other = LabelledSequences([np.full((2, 3), 5.0, dtype=np.float32)], np.array([0]))
    expected = np.broadcast_to((5.0 - scale.mean) / scale.std, (2, 3))
    np.testing.assert_allclose(scale_sequences(scale, other).sequences[0], expected, rtol=1e-6)


def test_named_labels_become_ids_in_sorted_order(tmp_path):
    """Labels may be names; ids follow their sorted order, the names are kept, and a second
    file (a test set) is read with the first one's names."""
    from grukit.data.sequences import load_sequence_file

    rows = ["sequence,label,a", "s1,dog,1", "s2,cat,2", "s2,cat,3", "s3,eel,4"]
    (tmp_path / "named.csv").write_text("\n".join(rows) + "\n")
    data = load_sequence_file(tmp_path / "named.csv")
    assert data.labels.tolist() == [1, 0, 2] and data.class_names == ["cat", "dog", "eel"]
    (tmp_path / "test.csv").write_text("sequence,label,a\nt1,eel,1\nt2,cat,1\n")
    test = load_sequence_file(tmp_path / "test.csv", class_names=data.class_names)
    assert test.labels.tolist() == [2, 0]
    (tmp_path / "odd.csv").write_text("sequence,label,a\nt1,cow,1\n")
    with pytest.raises(MalformedData, match="label 'cow' is not one of the training labels"):
        load_sequence_file(tmp_path / "odd.csv", class_names=data.class_names)
    np.savez(
        tmp_path / "named.npz",
        features=np.ones((3, 2)),
        lengths=np.array([1, 2]),
        labels=np.array(["yes", "no"]),
    )
    npz = load_sequence_file(tmp_path / "named.npz")
    assert npz.labels.tolist() == [1, 0] and npz.class_names == ["no", "yes"]


def test_files_to_predict_on_need_no_labels(tmp_path):
    from grukit.data.sequences import load_sequence_file

    (tmp_path / "new.csv").write_text("sequence,a,b\nx,1,2\nx,3,4\ny,5,6\n")
    data = load_sequence_file(tmp_path / "new.csv", labelled=False)
    assert data.lengths.tolist() == [2, 1] and data.labels.tolist() == [-1, -1]
    np.savez(tmp_path / "new.npz", features=np.ones((3, 2)), lengths=np.array([1, 2]))
    assert len(load_sequence_file(tmp_path / "new.npz", labelled=False)) == 2
    with pytest.raises(MalformedData, match="no 'labels' or 'y' array"):
        load_sequence_file(tmp_path / "new.npz")


@pytest.mark.parametrize("label", [50_000, 1e12])
def test_a_huge_label_is_refused_before_anything_is_allocated(label, tmp_path):
    """A label far beyond any class count (an id, a count) would make a C x C confusion
    matrix of terabytes: it is refused, naming the way to insist."""
    from grukit.data.sequences import load_sequence_file

    np.savez(
        tmp_path / "big.npz",
        features=np.ones((2, 1)),
        lengths=np.array([1, 1]),
        labels=np.array([0, label]),
    )
    with pytest.raises(MalformedData, match="more than 1,000 needs --classes N"):
        load_sequence_file(tmp_path / "big.npz")


def test_a_training_file_whose_labels_are_all_minus_one_is_refused(tmp_path):
    from grukit.data.sequences import load_sequence_file

    np.savez(
        tmp_path / "m.npz", features=np.ones((2, 1)), lengths=np.array([1, 1]), labels=[-1, -1]
    )
    with pytest.raises(MalformedData, match="label -1 is out of range"):
        load_sequence_file(tmp_path / "m.npz")


def test_large_finite_features_are_standardised_not_overflowed():
    """float32 sums of squares overflowed: features near 1e37 became NaN (and the run
    trained on NaN), one of 3e38 an all-zero column, with exit 0."""
    from grukit.data.scaling import StandardScaler

    train = [np.array([[1e37, 1.0], [-1e37, 2.0], [3e37, 3.0]], dtype=np.float32)]
    train.append(np.array([[3e38, 4.0]], dtype=np.float32))
    scaler = StandardScaler.fit(train)
    scaled = np.concatenate(scaler.transform_sequences(train))
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(scaled.std(0), 1, rtol=1e-5)


def test_complex_features_are_refused(tmp_path):
    """They were read as float32 with only numpy's warning: the imaginary part was lost."""
    path = tmp_path / "complex.npz"
    np.savez(path, features=np.ones((6, 2)) * (1 + 2j), lengths=[3, 3], labels=[0, 1])
    with pytest.raises(MalformedData, match="features must be real numbers, got complex ones"):
        load_sequence_file(path)


def _bad_files(folder):
    ok = folder / "ok.npz"
    np.savez(ok, features=np.ones((40, 2)), lengths=[4] * 10, labels=[0, 1] * 5)
    data = ok.read_bytes()
    files = {
        "empty.npz": b"",
        "truncated.npz": data[: len(data) // 2],
        "random.npz": bytes(range(256)) * 2,
        "header.csv": b"sequence,label,f1\n",
        "latin.csv": "sequence,label,f1\n0,caf\xe9,1\n".encode("latin-1"),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    for name, labels in (("nan.npz", [0, 1] * 4 + [np.nan, 1]), ("one.npz", [0] * 10)):
        np.savez(folder / name, features=np.ones((40, 2)), lengths=[4] * 10, labels=labels)


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.npz", "empty.npz: not a readable .npz: the file is empty"),  # was EOFError
        ("truncated.npz", "bytes are not a zip archive (a truncated"),  # was BadZipFile
        ("random.npz", "random.npz: not a readable .npz"),  # was called a ragged array
        ("header.csv", "the header is there but no rows of data follow it"),  # IndexError
        ("latin.csv", "latin.csv: not UTF-8 text (byte 0xe9 at offset 23)"),  # no file name
        ("nan.npz", "the label of sequence 8 is nan"),
        ("one.npz", "has label 0; a classifier needs at least two classes"),  # after training
    ],
)
def test_bad_data_files_are_one_line_naming_the_file(tmp_path, capsys, name, message):
    _bad_files(tmp_path)
    argv = ["train", "--task", "classify", "--data", str(tmp_path / name), "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
