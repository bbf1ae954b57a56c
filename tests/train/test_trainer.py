"""The trainer on a slice of JSB Chorales: it learns, writes metrics and checkpoints, and a
resumed run reproduces the losses of an uninterrupted one exactly."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
import torch

import grukit
from grukit.checkpoint import CheckpointError, read_checkpoint, restore
from grukit.data import load_music
from grukit.models import StepReadout
from grukit.tasks.music.next_step import MusicTask
from grukit.train import TrainConfig, Trainer


def jsb_slice():
    data = load_music("jsb")
    return {"train": data["train"][:12], "valid": data["valid"][:6], "test": data["test"][:6]}


def make_model(seed=0):
    torch.manual_seed(seed)
    return StepReadout(grukit.GRU(88, 16, 2, dropout=0.1), 88)


def train(out_dir, epochs, resume=False, **overrides):
    options = {"batch_size": 4, "lr": 3e-3, "weight_noise": 0.01, "seed": 3, **overrides}
    config = TrainConfig(epochs=epochs, **options)
    trainer = Trainer(make_model(), MusicTask(jsb_slice()), config, out_dir, log=io.StringIO())
    return trainer, trainer.fit(resume=resume)


def test_trains_and_writes_metrics_and_checkpoints(tmp_path):
    trainer, progress = train(tmp_path, epochs=3)
    history = progress.history
    assert [line["epoch"] for line in history] == [1, 2, 3]
    assert history[-1]["train"] < history[0]["train"]  # it learns
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == history
    assert (tmp_path / "best" / "tensors.safetensors").is_file()
    tensors, state = read_checkpoint(tmp_path / "last")
    assert state["progress"]["epoch"] == 3 and state["config"]["train"]["epochs"] == 3
    fresh = make_model(seed=99)
    restore(tensors, state, fresh)
    for (name, a), b in zip(trainer.model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    _, whole = train(tmp_path / "whole", epochs=4)
    train(tmp_path / "killed", epochs=2)  # stands for a run killed after its second epoch
    _, resumed = train(tmp_path / "killed", epochs=4, resume=True)
    for a, b in zip(whole.history, resumed.history):
        assert (a["train"], a["valid"]) == (b["train"], b["valid"])
    assert len(resumed.history) == 4


def test_corrupt_checkpoint(tmp_path):
    train(tmp_path, epochs=1)
    (tmp_path / "last" / "tensors.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="is damaged"):
        read_checkpoint(tmp_path / "last")
    with pytest.raises(CheckpointError, match="is not a grukit checkpoint folder"):
        read_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"optimizer": "lbfgs"}, r"optimizer: got 'lbfgs', wanted one of sgd, rmsprop, adam"),
        ({"lr": -1.0}, r"lr: got -1.0, wanted a finite number > 0"),
        ({"epochs": 0}, r"epochs: got 0, wanted an int >= 1"),
        ({"plateau_epochs": 0}, r"plateau_epochs: got 0, wanted an int >= 1"),
        ({"clip_norm": float("nan")}, r"clip_norm: got nan, wanted a finite number >= 0"),
    ],
)
def test_bad_config(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


def test_a_finished_run_is_not_overwritten_without_resume(tmp_path):
    train(tmp_path, epochs=1)
    before = (tmp_path / "last" / "tensors.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"already holds a run; resume continues it"):
        train(tmp_path, epochs=1)
    assert (tmp_path / "last" / "tensors.safetensors").read_bytes() == before


def test_resume_refuses_changed_options_but_allows_more_epochs_and_patience(tmp_path):
    train(tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"other options \(train.lr: 0.003 then 0.01\)"):
        train(tmp_path, epochs=2, resume=True, lr=1e-2)
    _, progress = train(tmp_path, epochs=2, resume=True, patience=20)
    assert progress.epoch == 2


def test_a_run_stopped_early_goes_on_when_resumed_with_more_patience(tmp_path):
    _, stopped = train(tmp_path, epochs=8, patience=1, lr=0.3)
    assert stopped.stopped_early and stopped.epoch < 8
    _, again = train(tmp_path, epochs=8, patience=1, lr=0.3, resume=True)
    assert again.epoch == stopped.epoch  # same patience: nothing more to do
    _, more = train(tmp_path, epochs=8, patience=20, lr=0.3, resume=True)
    assert more.epoch == 8 and not more.stopped_early


def test_options_added_to_grukit_after_a_run_began_do_not_block_its_resume():
    from grukit.train.trainer import changed_options

    saved = {"model": {"hidden": 8}, "train": {"lr": 0.1, "epochs": 3}}
    current = {"model": {"hidden": 8, "pooling": "last"}, "train": {"lr": 0.1, "epochs": 9}}
    assert changed_options(saved, current) == []
    current["model"]["hidden"] = 9
    assert changed_options(saved, current) == ["model.hidden: 8 then 9"]


def test_a_missing_device_is_refused_in_one_line(tmp_path):
    """--device cuda where torch sees none: a clear error naming what it sees."""
    from grukit.train.trainer import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device: got 'cuda', but torch sees 0 CUDA"):
            train(tmp_path, epochs=1, device="cuda")
    with pytest.raises(ValueError, match="device: got 'tpu', wanted cpu, cuda or cuda:N"):
        TrainConfig(device="tpu")


def test_weight_decay_reaches_matrices_only():
    """Biases, norm gains and (chrono) gate biases are not decayed; weights and embeddings
    are (nanoGPT's configure_optimizers)."""
    from grukit.train.trainer import make_optimizer

    model = grukit.GRU(3, 4, variant="ligru")  # batch-norm gains beside the matrices
    groups = make_optimizer(TrainConfig(weight_decay=0.1), model).param_groups
    decayed = {id(p) for p in groups[0]["params"]}
    for name, parameter in model.named_parameters():
        assert (id(parameter) in decayed) == (parameter.dim() >= 2), name
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    plain = make_optimizer(TrainConfig(), model).param_groups
    assert len(plain) == 1 and plain[0]["weight_decay"] == 0.0  # as before: one group


def test_busy_cores_is_other_processes_use_from_proc_stat(monkeypatch):
    """busy = (the machine's non-idle seconds - this process's own) / wall seconds, from
    /proc/stat's first line: ticks of user nice system idle iowait irq softirq steal."""
    from types import SimpleNamespace

    from grukit.train import threads

    tick = os.sysconf("SC_CLK_TCK")

    def proc_stat(*seconds):
        return "cpu  " + " ".join(str(round(s * tick)) for s in seconds) + "\n"

    # Over 2 s: user +2.5 s, system +1.0 s (busy 3.5 s), idle +0.3 s, iowait +0.2 s; this
    # process +0.4 s user, +0.1 s system. Others: (3.5 - 0.5) / 2 = 1.5 cores.
    lines = iter([proc_stat(100, 0, 50, 1000, 10), proc_stat(102.5, 0, 51, 1000.3, 10.2)])
    own = iter([SimpleNamespace(user=7.0, system=1.0), SimpleNamespace(user=7.4, system=1.1)])
    clock, slept = iter([10.0, 12.0]), []
    monkeypatch.setattr(threads, "open", lambda path: io.StringIO(next(lines)), raising=False)
    monkeypatch.setattr(threads, "os", SimpleNamespace(times=lambda: next(own), sysconf=os.sysconf))
    monkeypatch.setattr(
        threads, "time", SimpleNamespace(perf_counter=lambda: next(clock), sleep=slept.append)
    )
    assert threads.busy_cores(2.0) == pytest.approx(1.5) and slept == [2.0]

    def missing(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(threads, "open", missing, raising=False)  # not Linux
    own, clock = iter([SimpleNamespace(user=0.0, system=0.0)]), iter([0.0])
    assert threads.busy_cores() == 0.0 and slept == [2.0]  # nothing to wait for


def test_threads_auto_is_torchs_default_and_warns_on_a_busy_machine(monkeypatch):
    from grukit.train import threads

    log = io.StringIO()
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "DEFAULT_THREADS", 4)  # torch's own default here
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.1)
    assert threads.choose_threads(0, log) == 4 and log.getvalue() == ""
    monkeypatch.setattr(threads, "busy_cores", lambda: 2.8)
    assert threads.choose_threads(0, log) == 4  # the same count whatever the load
    assert "--threads 1 would fit beside them" in log.getvalue()
    assert threads.choose_threads(3, log) == 3  # asked for: given


def test_a_loss_that_becomes_nan_stops_the_run_saying_so(tmp_path, monkeypatch):
    """Training went on over NaN with exit 0; now it stops, and last/ keeps the epoch
    before."""
    from grukit.train.trainer import TrainingDiverged

    train(tmp_path, epochs=1)
    monkeypatch.setattr(Trainer, "_train_epoch", lambda self, epoch: float("nan"))
    with pytest.raises(
        TrainingDiverged, match=r"epoch 2: the training loss is nan .* hold epoch 1"
    ):
        train(tmp_path, epochs=2, resume=True)
    assert read_checkpoint(tmp_path / "last")[1]["progress"]["epoch"] == 1


def test_max_minutes_stops_the_epoch_under_way_then_evaluates_and_saves(tmp_path):
    log = io.StringIO()
    config = TrainConfig(epochs=5, batch_size=2, lr=3e-3, max_minutes=1e-9)
    trainer = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=log)
    progress = trainer.fit()
    assert progress.epoch == 1 and progress.out_of_time
    assert progress.history[0]["partial"] is True  # one batch of six, then the deadline
    assert "(stopped: --max-minutes 1e-09 reached, part of the epoch)" in log.getvalue()
    state = read_checkpoint(tmp_path / "last")[1]
    assert state["progress"]["epoch"] == 1 and state["progress"]["out_of_time"]
    # a resume with more time goes on with the next epoch
    config = TrainConfig(epochs=2, batch_size=2, lr=3e-3)
    resumed = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=log)
    progress = resumed.fit(resume=True)
    assert progress.epoch == 2 and not progress.out_of_time
    assert "partial" not in progress.history[1]


def test_max_minutes_is_the_whole_runs_budget_across_resumes(tmp_path):
    log = io.StringIO()
    config = TrainConfig(epochs=2, batch_size=2, lr=3e-3)
    started = time.perf_counter()
    Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=log).fit()
    elapsed = time.perf_counter() - started
    history = read_checkpoint(tmp_path / "last")[1]["progress"]["history"]
    used = sum(line["wall"] for line in history)
    # Each epoch's wall time holds its training seconds; together they fit in fit()'s time.
    assert all(line["wall"] >= line["seconds"] > 0 for line in history) and used <= elapsed
    # a budget the two epochs already spent: a resume trains no further
    config = TrainConfig(epochs=4, batch_size=2, lr=3e-3, max_minutes=0.9 * used / 60)
    progress = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=log).fit(
        resume=True
    )
    assert progress.epoch == 2 and progress.out_of_time
    assert "already used by its 2 epochs" in log.getvalue()
    # a budget with room left goes on
    config = TrainConfig(epochs=3, batch_size=2, lr=3e-3, max_minutes=used / 60 + 10)
    progress = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=log).fit(
        resume=True
    )
    assert progress.epoch == 3 and not progress.out_of_time


def test_max_minutes_must_be_a_finite_number_at_least_0():
    with pytest.raises(ValueError, match="max_minutes: got -1.0, wanted a finite number >= 0"):
        TrainConfig(max_minutes=-1.0)


@pytest.mark.parametrize(
    "schedule, done, factor",
    [("none", 0.7, 1.0), ("linear", 0.25, 0.75), ("cosine", 0.5, 0.5), ("cosine", 1.0, 0.0)],
)
def test_learning_rate_schedules(schedule, done, factor):
    from grukit.train.trainer import learning_rate

    config = TrainConfig(lr=0.2, lr_schedule=schedule)
    assert learning_rate(config, done, 0) == pytest.approx(0.2 * factor, abs=1e-12)
    assert learning_rate(TrainConfig(lr=0.2), done, 2) == pytest.approx(0.05)  # plateau


def test_linear_decay_is_set_each_batch_over_the_epochs(tmp_path):
    seen = []
    config = TrainConfig(epochs=2, batch_size=2, lr=0.1, optimizer="sgd", lr_schedule="linear")
    trainer = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=io.StringIO())
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    trainer.fit()
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    per_epoch = len(seen) // 2  # six batches an epoch
    wanted = [0.1 * (1 - k / (2 * per_epoch)) for k in range(2 * per_epoch)]
    assert seen == pytest.approx(wanted)


def test_a_decay_follows_the_max_minutes_budget_when_it_ends_the_run_first(tmp_path):
    import time

    config = TrainConfig(epochs=100, lr=0.1, lr_schedule="linear", max_minutes=1.0)
    trainer = Trainer(make_model(), MusicTask(jsb_slice()), config, tmp_path, log=io.StringIO())
    trainer.deadline = time.monotonic() + 15  # a quarter of the minute left
    assert trainer._set_learning_rate(epoch=1, through_epoch=0.0) == pytest.approx(0.025, abs=1e-3)
    trainer.deadline = time.monotonic() + 60  # all of it left: the epochs say 1 % done
    assert trainer._set_learning_rate(epoch=1, through_epoch=0.0) == pytest.approx(0.099, abs=1e-4)
