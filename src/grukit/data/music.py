"""The four polyphonic music data sets of Boulanger-Lewandowski et al. (2012): 88-key piano
rolls with their official train / valid / test splits, and the metric of the papers.

JSB Chorales and Nottingham ship inside the package (``grukit/data/bundled``, see
SOURCES.md there); MuseData and Piano-midi load from a folder holding the .mat files
(``MuseData.mat``, ``Piano_midi.mat``, keys ``traindata``/``validdata``/``testdata``).

A piece is a (T, 88) uint8 array, 1 where a key sounds at a time step. A next-step model
reads steps 0..T-2 and predicts steps 1..T-1; its score is the negative log-likelihood in
nats summed over the 88 keys, averaged over all predicted steps of a split (Chung et al.
2014, Bai et al. 2018).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from grukit.extras import require

KEYS = 88
SPLITS = ("train", "valid", "test")
DATASETS = {  # name -> (bundled file, .mat file)
    "jsb": ("jsb_chorales.npz", "JSB_Chorales.mat"),
    "nottingham": ("nottingham.npz", "Nottingham.mat"),
    "musedata": (None, "MuseData.mat"),
    "pianomidi": (None, "Piano_midi.mat"),
}
MAT_KEYS = {"train": "traindata", "valid": "validdata", "test": "testdata"}

Pieces = list[np.ndarray]


def load_music(name: str, data_dir: str | Path | None = None) -> dict[str, Pieces]:
    """The splits of a data set: {"train": [piece (T, 88) uint8, ...], "valid": ..., "test": ...}.

    Bundled sets (jsb, nottingham) load from the package unless ``data_dir`` is given;
    musedata and pianomidi need ``data_dir``.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset: got {name!r}, wanted one of {', '.join(DATASETS)}")
    bundled, mat_name = DATASETS[name]
    if data_dir is None:
        if bundled is None:
            raise ValueError(
                f"dataset {name!r} is not bundled: give --data-dir, a folder holding {mat_name}"
            )
        return _load_bundled(bundled)
    path = Path(data_dir) / mat_name
    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"data dir: got {str(data_dir)!r}, which is not a folder")
    if not path.is_file():
        raise FileNotFoundError(f"data dir: {str(data_dir)!r} holds no {mat_name}")
    return _load_mat(path)


def _load_bundled(file_name: str) -> dict[str, Pieces]:
    with resources.files("grukit.data.bundled").joinpath(file_name).open("rb") as handle:
        arrays = np.load(handle)
        splits = {}
        for split in SPLITS:
            steps = np.unpackbits(arrays[f"{split}_bits"], axis=1, count=KEYS)
            offsets = np.cumsum(arrays[f"{split}_lengths"])[:-1]
            splits[split] = np.split(steps, offsets)
    return splits


def _load_mat(path: Path) -> dict[str, Pieces]:
    scipy_io = require("scipy.io", "train", needed_by="reading .mat files")
    try:
        contents = scipy_io.loadmat(path)
    except Exception as error:  # scipy raises several kinds for a damaged file
        raise ValueError(f"data file {str(path)!r} is not a readable .mat file: {error}") from error
    splits = {}
    for split, key in MAT_KEYS.items():
        if key not in contents:
            raise ValueError(
                f"data file {str(path)!r} has no {key!r}; wanted traindata, validdata, testdata"
            )
        pieces = [np.asarray(piece, dtype=np.uint8) for piece in contents[key].ravel()]
        for index, piece in enumerate(pieces):
            if piece.ndim != 2 or piece.shape[1] != KEYS or piece.shape[0] < 2:
                raise ValueError(
                    f"data file {str(path)!r}: {key}[{index}] has shape {piece.shape}, "
                    f"wanted (T >= 2, {KEYS})"
                )
        splits[split] = pieces
    return splits


def independent_bernoulli_nll(train: Pieces, test: Pieces, eps: float = 1e-6) -> float:
    """The baseline that ignores time: each key on with its training frequency p_k;
    mean over the test steps of -sum_k [y_k log p_k + (1 - y_k) log(1 - p_k)], in nats.

    (JSB Chorales 11.06, Nottingham 10.25 on their test splits.)
    """
    p = np.clip(np.concatenate(train).mean(0, dtype=np.float64), eps, 1 - eps)
    y = np.concatenate(test).astype(np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).sum(1).mean())
