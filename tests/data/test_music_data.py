"""The music data sets: splits, shapes, the bundled copies equal the .mat files, the
independent-Bernoulli baseline, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grukit.data import independent_bernoulli_nll, load_music

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "poly_music"
SIZES = {"jsb": (229, 76, 77), "nottingham": (694, 173, 170)}


@pytest.mark.parametrize("name", ["jsb", "nottingham"])
def test_bundled_splits(name):
    data = load_music(name)
    assert tuple(len(data[split]) for split in ("train", "valid", "test")) == SIZES[name]
    for pieces in data.values():
        for piece in pieces:
            assert piece.dtype == np.uint8 and piece.ndim == 2 and piece.shape[1] == 88
            assert piece.shape[0] >= 2 and set(np.unique(piece)) <= {0, 1}


@pytest.mark.parametrize("name, expected", [("jsb", 11.06), ("nottingham", 10.25)])
def test_independent_bernoulli_baseline(name, expected):
    data = load_music(name)
    assert round(independent_bernoulli_nll(data["train"], data["test"]), 2) == expected


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="the shared .mat files are not beside this checkout"
)
@pytest.mark.parametrize("name", ["jsb", "nottingham"])
def test_bundled_copy_equals_the_mat_file(name):
    bundled, original = load_music(name), load_music(name, SHARED)
    for split in ("train", "valid", "test"):
        assert len(bundled[split]) == len(original[split])
        for a, b in zip(bundled[split], original[split]):
            assert np.array_equal(a, b)


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="the shared .mat files are not beside this checkout"
)
def test_musedata_from_data_dir():
    data = load_music("musedata", SHARED)
    assert tuple(len(data[s]) for s in ("train", "valid", "test")) == (524, 135, 124)


def test_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"dataset: got 'bach', wanted one of jsb, nottingham, musedata, pianomidi"
    ):
        load_music("bach")
    with pytest.raises(ValueError, match=r"dataset 'pianomidi' is not bundled: give --data-dir"):
        load_music("pianomidi")
    with pytest.raises(FileNotFoundError, match=r"data dir: got .*, which is not a folder"):
        load_music("musedata", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=r"data dir: .* holds no MuseData.mat"):
        load_music("musedata", tmp_path)
    (tmp_path / "MuseData.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match=r"is not a readable .mat file"):
        load_music("musedata", tmp_path)
