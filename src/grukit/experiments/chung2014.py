"""Chung, Gulcehre, Cho & Bengio (2014), Table 2, reproduced: tanh RNN, LSTM and GRU of
about 20K recurrent parameters (100, 36 and 46 units; the GRU with the reset gate before
the matmul, as there) on polyphonic music; NLL per time step in nats. ``all_variants``
adds every grukit variant, each sized to the GRU's parameter count. ``quick`` trains 60
epochs at most with Adam and no weight noise (about a minute on JSB): the ranking forms,
the final numbers do not. A full run uses Chung et al.'s recipe (RMSProp, weight noise
0.075, clipping at 1; 300 epochs at most, the rate halved after 10 epochs without a new
best, early stopping after 30).

Writes report.md (the table and the learning curves) into ``out``. Run again, it reuses
the finished runs in ``out`` and resumes interrupted ones (``fresh`` retrains them all).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grukit.data.music import KEYS, independent_bernoulli_nll
from grukit.models import ModelConfig
from grukit.models.recurrent import hidden_for_budget, parameter_count
from grukit.run.options import RunConfig
from grukit.run.training import run_training
from grukit.tasks.music.next_step import DataConfig, load_splits
from grukit.train import RunMismatch
from grukit.train.config import TrainConfig
from grukit.train.plots import plot_learning_curves

# Chung et al. 2014, Table 2: (train NLL, test NLL).
CHUNG2014 = {
    "nottingham": {"rnn": (3.22, 3.13), "gru": (2.79, 3.23), "lstm": (3.08, 3.20)},
    "jsb": {"rnn": (8.82, 9.10), "gru": (6.94, 8.54), "lstm": (8.15, 8.67)},
    "musedata": {"rnn": (5.64, 6.23), "gru": (5.06, 5.99), "lstm": (5.18, 6.23)},
    "pianomidi": {"rnn": (5.64, 9.03), "gru": (4.93, 8.82), "lstm": (6.49, 9.03)},
}
PAPER_MODELS = [
    ("rnn", 100, None),
    ("lstm", 36, None),
    ("gru", 46, False),
]  # (model, units, reset_after)
VARIANT_MODELS = [
    ("gru", True),
    ("gru1", None),
    ("gru2", None),
    ("gru3", None),
    ("mgu", None),
    ("ligru", None),
    ("mingru", None),
]


@dataclass
class Chung2014:
    """The options of one reproduction."""

    datasets: tuple[str, ...] = ("jsb",)
    out: str = "runs/chung2014"
    quick: bool = False
    all_variants: bool = False
    fresh: bool = False
    seed: int = 0
    limit: int = 0  # the first N pieces of each split only (0 = all)
    data_dir: str | None = None

    def __post_init__(self) -> None:
        for name in self.datasets:
            if name not in CHUNG2014:
                raise ValueError(f"datasets: got {name!r}, wanted some of {', '.join(CHUNG2014)}")
        if not self.datasets:
            raise ValueError("datasets: got none, wanted some of " + ", ".join(CHUNG2014))

    def command_line(self) -> str:
        """The reproduce command that gives these numbers again."""
        words = ["grukit reproduce chung2014", f"--datasets {','.join(self.datasets)}"]
        if self.data_dir:
            words.append(f"--data-dir {self.data_dir}")
        words += [
            flag
            for flag, on in (("--quick", self.quick), ("--all-variants", self.all_variants))
            if on
        ]
        words += [
            f"--{name} {value}"
            for name, value in (("seed", self.seed), ("limit", self.limit))
            if value
        ]
        words.append(f"--out {self.out}")
        return " ".join(words)


def training_config(quick: bool, seed: int):
    common = {"batch_size": 8, "clip_norm": 1.0, "lr_schedule": "plateau", "seed": seed}
    if quick:  # a fifth of a full run's epochs: the curves' shape, not their end
        return TrainConfig(epochs=60, patience=10, optimizer="adam", lr=3e-3, **common)
    # Chung et al.'s recipe: RMSProp, weight noise 0.075, gradient norm clipped to 1. The
    # rate halves after 10 flat epochs: after 3 it collapsed on Nottingham (test 4.15, not 3.80).
    return TrainConfig(
        epochs=300,
        patience=30,
        plateau_epochs=10,
        optimizer="rmsprop",
        lr=1e-3,
        weight_noise=0.075,
        **common,
    )


def paper_model_parameters(model: str, hidden: int, reset_after) -> int:
    return parameter_count(ModelConfig(model=model, hidden=hidden, reset_after=reset_after), KEYS)


def reproduce(options: Chung2014, log=None, tables=None) -> Path:
    """Train every model on every data set, print each table, write report.md into
    ``options.out`` and return its path. ``log``: where progress goes (stderr); ``tables``:
    where each data set's table goes as soon as it is done (stdout)."""
    log = sys.stderr if log is None else log
    tables = sys.stdout if tables is None else tables
    datasets = options.datasets
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    train = training_config(options.quick, options.seed)
    started = time.perf_counter()
    report = [
        f"# Chung et al. 2014 on {', '.join(datasets)}{' (quick run)' if options.quick else ''}",
        "",
        f"Command: `{options.command_line()}`",
        "",
        f"Training: {json.dumps(asdict(train))}",
        "",
    ]
    for dataset in datasets:
        models = list(PAPER_MODELS)
        if options.all_variants:
            gru_budget = paper_model_parameters("gru", 46, False)
            models += [
                (m, hidden_for_budget(m, gru_budget, KEYS, ra), ra) for m, ra in VARIANT_MODELS
            ]
        rows, histories = [], {}
        data = DataConfig(dataset=dataset, data_dir=options.data_dir, limit=options.limit)
        baseline_splits = load_splits(data)
        baseline = independent_bernoulli_nll(baseline_splits["train"], baseline_splits["test"])
        for model, hidden, reset_after in models:
            label = model + (
                "" if reset_after is None else f" (reset_after={str(reset_after).lower()})"
            )
            print(f"[{dataset}] training {label}, {hidden} units ...", file=log, flush=True)
            model_config = ModelConfig(model=model, hidden=hidden, reset_after=reset_after)
            suffix = "" if reset_after is None else f"-ra{int(reset_after)}"
            run_dir = out / dataset / f"{model}-{hidden}{suffix}"
            if options.fresh and run_dir.exists():
                shutil.rmtree(run_dir)
            try:
                run = RunConfig("music", data, model_config, train, str(run_dir))
                result = run_training(run, resume=True, log=log)
            except RunMismatch as error:
                raise RunMismatch(f"{error}; --fresh retrains") from None
            history = [
                json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            ]
            histories[label] = history
            paper = CHUNG2014[dataset].get(model) if reset_after in (None, False) else None
            rows.append((label, result, paper))
        table = format_table(dataset, rows, baseline)
        print("\n" + table + "\n", file=tables, flush=True)
        plot = plot_learning_curves(
            histories, out / f"{dataset}-curves.png", f"Chung 2014 models on {dataset}"
        )
        report += [f"## {dataset}", "", table, "", f"![learning curves]({plot.name})", ""]
    report.append(f"Total wall time: {time.perf_counter() - started:.0f} s.")
    (out / "report.md").write_text("\n".join(report) + "\n")
    return out / "report.md"


def format_table(dataset: str, rows, baseline: float) -> str:
    lines = [
        "| model | recurrent params | units | train NLL (paper) | test NLL (paper) | s/epoch "
        "| backend |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, result, paper in rows:
        train_paper = f" ({paper[0]:.2f})" if paper else ""
        test_paper = f" ({paper[1]:.2f})" if paper else ""
        lines.append(
            f"| {label} | {result['recurrent_parameters']:,} | {result['hidden']} | "
            f"{result['train_nll']:.2f}{train_paper} | {result['test_nll']:.2f}{test_paper} | "
            f"{result['seconds_per_epoch']:.1f} | {result['backend']} |"
        )
    lines.append(f"| independent Bernoulli | 0 | - | - | {baseline:.2f} | - | - |")
    return "\n".join(lines)
