"""The training log shows beside each loss the scores the task derives from it: bits per
character for a character-level language model, perplexity for a word-level one."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from grukit.data.corpora import Corpus
from grukit.models import ModelConfig
from grukit.tasks.language.lm import DataConfig, LanguageModelTask
from grukit.train import TrainConfig, Trainer
from grukit.train.progress import EpochProgress, format_scores


def tiny_corpus(unit: str) -> Corpus:
    rng = np.random.default_rng(0)
    splits = {
        name: rng.integers(0, 12, size)
        for name, size in (("train", 400), ("valid", 123), ("test", 97))
    }
    return Corpus("tiny", unit, tuple(f"s{i}" for i in range(12)), splits)


@pytest.mark.parametrize(
    "unit, name, derive",
    [("word", "perplexity", math.exp), ("char", "bpc", lambda loss: loss / math.log(2))],
)
def test_the_epoch_line_shows_the_tasks_scores(unit, name, derive, tmp_path):
    task = LanguageModelTask(tiny_corpus(unit), DataConfig(bptt=10))
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(hidden=8))
    log = io.StringIO()
    config = TrainConfig(epochs=1, batch_size=4, threads=1)
    history = Trainer(model, task, config, tmp_path, log=log).fit().history
    train, valid = history[0]["train"], history[0]["valid"]
    expected = (
        f"epoch 1/1  train {train:.4f} ({name} {derive(train):.4g})  "
        f"valid {valid:.4f} ({name} {derive(valid):.4g})  lr "
    )
    assert expected in log.getvalue()


def test_the_live_line_shows_them_too():
    progress = EpochProgress(
        io.StringIO(), 3, 200, 10, scores=lambda loss: {"bpc": loss / math.log(2)}
    )
    line = progress.line(done=5, loss=1.0, elapsed=2.0)
    assert line == (
        "  epoch 3/200 [##########..........] 5/10  loss 1.0000 (bpc 1.443)  2.5 batch/s  eta 0:02"
    )


def test_a_task_without_derived_scores_shows_the_loss_alone():
    assert format_scores({}) == ""
    assert format_scores({"perplexity": 84.4012, "bpc": 1.3456}) == " (perplexity 84.4, bpc 1.346)"

    class Plain:  # only what the trainer's protocol asks for
        def batches(self, *args, **kwargs):
            return iter(())

        def loss(self, model, batch):
            raise AssertionError

    trainer = Trainer(torch.nn.Linear(2, 2), Plain(), TrainConfig(), "unused", log=io.StringIO())
    assert trainer.scores_from_loss(1.0) == {}


def test_a_huge_finite_loss_is_an_infinite_perplexity():
    task = LanguageModelTask(tiny_corpus("word"), DataConfig())
    assert task.scores_from_loss(800.0) == {"perplexity": math.inf}
