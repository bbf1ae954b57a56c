"""Next-step prediction on polyphonic music (Chung et al. 2014): the loss is the papers'
NLL in nats, summed over the 88 keys, per predicted time step."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from grukit.cells import VARIANTS
from grukit.data.batching import batch_indices, next_step_batch
from grukit.data.music import DATASETS, KEYS, Pieces, load_music
from grukit.layers import GRU
from grukit.models.polyphonic import PolyphonicModel, polyphonic_nll
from grukit.train.checkpoint import read_checkpoint, restore
from grukit.train.config import TrainConfig, option
from grukit.train.plots import plot_learning_curves
from grukit.train.trainer import Trainer, mean_loss

Batch = tuple[Tensor, Tensor, Tensor]  # inputs (T, B, 88), targets (T, B, 88), lengths (B,)
MODELS = ("rnn", "lstm", *VARIANTS)


class MusicTask:
    """Batches of pieces from ``splits`` ({"train": [...], "valid": [...], "test": [...]})."""

    def __init__(self, splits: dict[str, Pieces]) -> None:
        self.splits = splits

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        pieces = self.splits[split]
        lengths = [len(piece) for piece in pieces]
        for indices in batch_indices(
            lengths, batch_size, shuffle=shuffle, seed=seed, bucket=bucket
        ):
            yield next_step_batch([pieces[i] for i in indices])

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        inputs, targets, lengths = batch
        return polyphonic_nll(model(inputs, lengths), targets, lengths)


@dataclass
class MusicConfig:
    """What to train on, and which model."""

    dataset: str = option("jsb", "jsb, nottingham (bundled), musedata, pianomidi (need --data-dir)")
    data_dir: str | None = option(None, "folder holding the data sets' .mat files")
    limit: int = option(0, "only the first N pieces of each split (0 = all), for quick checks")
    model: str = option("gru", "rnn (tanh), lstm, or a grukit variant: " + ", ".join(VARIANTS))
    hidden: int = option(46, "hidden units of each recurrent layer")
    layers: int = option(1, "stacked recurrent layers")
    dropout: float = option(0.0, "dropout between stacked layers")
    reset_after: bool | None = option(
        None, "gru family: reset after the recurrent matmul (true) or before it (false: Cho, Chung)"
    )
    backend: str = option("auto", "grukit backend: auto, fused or reference")

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: got {self.dataset!r}, wanted one of {', '.join(DATASETS)}")
        if self.model not in MODELS:
            raise ValueError(f"model: got {self.model!r}, wanted one of {', '.join(MODELS)}")
        for name in ("hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: got {getattr(self, name)}, wanted an int >= 1")
        if self.limit < 0:
            raise ValueError(f"limit: got {self.limit}, wanted an int >= 0")
        if not 0 <= self.dropout <= 1:
            raise ValueError(f"dropout: got {self.dropout}, wanted a number in [0, 1]")


def build_model(config: MusicConfig) -> PolyphonicModel:
    """The next-step model for ``config`` (88 keys in, 88 logits out)."""
    if config.model == "lstm":
        recurrent: nn.Module = nn.LSTM(KEYS, config.hidden, config.layers, dropout=config.dropout)
    elif config.model == "rnn":
        recurrent = nn.RNN(
            KEYS, config.hidden, config.layers, nonlinearity="tanh", dropout=config.dropout
        )
    else:
        reset_after = (
            config.reset_after if config.model in ("gru", "gru1", "gru2", "gru3") else None
        )
        recurrent = GRU(
            KEYS,
            config.hidden,
            config.layers,
            dropout=config.dropout,
            variant=config.model,
            reset_after=reset_after,
            backend=config.backend,
        )
    return PolyphonicModel(recurrent)


def recurrent_parameters(model: PolyphonicModel) -> int:
    return sum(p.numel() for p in model.recurrent.parameters())


def load_splits(config: MusicConfig) -> dict[str, Pieces]:
    splits = load_music(config.dataset, config.data_dir)
    if config.limit:
        splits = {name: pieces[: config.limit] for name, pieces in splits.items()}
    return splits


EVAL_BATCH = 16


def train_music(
    music: MusicConfig,
    train: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    log=None,
) -> dict:
    """Train, keep the best checkpoint by validation NLL, score it on every split; write
    ``result.json`` and ``curves.png`` into ``out_dir`` and return the result."""
    out_dir = Path(out_dir)
    splits = load_splits(music)
    task = MusicTask(splits)
    torch.manual_seed(train.seed)
    model = build_model(music)
    if isinstance(model.recurrent, GRU):
        model.recurrent.backend_choice()  # builds the kernels now, not in the first epoch
    run_config = {"task": "music", "music": asdict(music), "train": asdict(train)}
    trainer = Trainer(model, task, train, out_dir, run_config=run_config, log=log)
    started = time.perf_counter()
    progress = trainer.fit(resume=resume)
    tensors, state = read_checkpoint(out_dir / "best")
    restore(tensors, state, model)
    result = {
        "model": music.model,
        "dataset": music.dataset,
        "recurrent_parameters": recurrent_parameters(model),
        "hidden": music.hidden,
        "epochs": progress["epoch"],
        "best_epoch": progress["best_epoch"],
        **{
            f"{split}_nll": mean_loss(model, task, split, EVAL_BATCH)
            for split in ("train", "valid", "test")
        },
        "seconds_per_epoch": sum(line["seconds"] for line in progress["history"])
        / len(progress["history"]),
        "backend": model.recurrent.backend_choice().name
        if isinstance(model.recurrent, GRU)
        else "torch",
        "wall_seconds": time.perf_counter() - started,
    }
    (out_dir / "result.json").write_text(json.dumps(result, indent=1))
    plot_learning_curves(
        {music.model: progress["history"]},
        out_dir / "curves.png",
        f"{music.model} on {music.dataset}",
    )
    return result


def evaluate_checkpoint(path: str | Path, split: str = "test") -> dict:
    """Rebuild a music checkpoint's model from its saved config and score one split."""
    tensors, state = read_checkpoint(path)
    config = state.get("config", {})
    if config.get("task") != "music":
        raise ValueError(f"checkpoint: {str(path)!r} is not from a music run")
    music = MusicConfig(**config["music"])
    model = build_model(music)
    restore(tensors, state, model)
    task = MusicTask(load_splits(music))
    if split not in task.splits:
        raise ValueError(f"split: got {split!r}, wanted train, valid or test")
    return {
        "dataset": music.dataset,
        "model": music.model,
        "split": split,
        "nll": mean_loss(model, task, split, EVAL_BATCH),
        "epoch": state["progress"]["epoch"],
    }
