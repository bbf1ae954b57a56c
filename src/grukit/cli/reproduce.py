"""Reproduce a published comparison and put our numbers beside the paper's.

    grukit reproduce chung2014 [--datasets jsb,nottingham] [--quick] [--all-variants]

chung2014: Chung, Gulcehre, Cho & Bengio (2014), Table 2 — tanh RNN, LSTM and GRU of about
20K recurrent parameters (100, 36 and 46 units; the GRU with the reset gate before the
matmul, as there) on polyphonic music; NLL per time step in nats. ``--all-variants`` adds
every grukit variant, each sized to the GRU's parameter count. ``--quick`` trains 60
epochs at most with Adam and no weight noise (about a minute on JSB): the ranking forms,
the final numbers do not. A full run uses Chung et al.'s recipe (RMSProp, weight noise
0.075, clipping at 1; 300 epochs at most, the rate halved after 10 epochs without a new
best, early stopping after 30).
Writes report.md (the table and the learning curves) into --out. Run again, it reuses the
finished runs in --out and resumes interrupted ones (``--fresh`` retrains them all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

HELP = "train the models of a paper and print our numbers beside its table"

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paper", choices=["chung2014"], help="the comparison to reproduce")
    parser.add_argument(
        "--datasets",
        default="jsb",
        help="comma-separated: jsb, nottingham, musedata, pianomidi (default: jsb)",
    )
    parser.add_argument(
        "--data-dir", help="folder with the .mat files (needed for musedata, pianomidi)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few epochs only: checks the pipeline in minutes"
    )
    parser.add_argument(
        "--all-variants", action="store_true", help="also every grukit variant at the same budget"
    )
    parser.add_argument(
        "--out",
        help="report folder (default: runs/chung2014, or runs/chung2014-quick with --quick)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="retrain every model; without it finished runs in --out are reused and "
        "interrupted ones resumed",
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="only the first N pieces of each split (default: 0 = all)",
    )


def training_config(quick: bool, seed: int):
    from grukit.train.config import TrainConfig

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
    from grukit.data.music import KEYS
    from grukit.models import ModelConfig
    from grukit.models.recurrent import parameter_count

    return parameter_count(ModelConfig(model=model, hidden=hidden, reset_after=reset_after), KEYS)


def run(args: argparse.Namespace) -> int:
    from grukit.data.music import KEYS, independent_bernoulli_nll
    from grukit.models import ModelConfig
    from grukit.models.recurrent import hidden_for_budget
    from grukit.tasks.music import DataConfig, load_splits
    from grukit.tasks.runner import train_task
    from grukit.train import RunMismatch
    from grukit.train.plots import plot_learning_curves

    datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
    for name in datasets:
        if name not in CHUNG2014:
            raise ValueError(f"datasets: got {name!r}, wanted some of {', '.join(CHUNG2014)}")
    out = Path(args.out or ("runs/chung2014-quick" if args.quick else "runs/chung2014"))
    out.mkdir(parents=True, exist_ok=True)
    train = training_config(args.quick, args.seed)
    started = time.perf_counter()
    report = [
        f"# Chung et al. 2014 on {', '.join(datasets)}{' (quick run)' if args.quick else ''}",
        "",
        f"Command: `{command_line(args, datasets)}`",
        "",
        f"Training: {json.dumps(asdict(train))}",
        "",
    ]
    for dataset in datasets:
        models = list(PAPER_MODELS)
        if args.all_variants:
            gru_budget = paper_model_parameters("gru", 46, False)
            models += [
                (m, hidden_for_budget(m, gru_budget, KEYS, ra), ra) for m, ra in VARIANT_MODELS
            ]
        rows, histories = [], {}
        data = DataConfig(dataset=dataset, data_dir=args.data_dir, limit=args.limit)
        baseline_splits = load_splits(data)
        baseline = independent_bernoulli_nll(baseline_splits["train"], baseline_splits["test"])
        for model, hidden, reset_after in models:
            label = model + (
                "" if reset_after is None else f" (reset_after={str(reset_after).lower()})"
            )
            print(f"[{dataset}] training {label}, {hidden} units ...", file=sys.stderr, flush=True)
            model_config = ModelConfig(model=model, hidden=hidden, reset_after=reset_after)
            suffix = "" if reset_after is None else f"-ra{int(reset_after)}"
            run_dir = out / dataset / f"{model}-{hidden}{suffix}"
            if args.fresh and run_dir.exists():
                shutil.rmtree(run_dir)
            try:
                result = train_task("music", data, model_config, train, run_dir, resume=True)
            except RunMismatch as error:
                raise RunMismatch(f"{error}; --fresh retrains") from None
            history = [
                json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            ]
            histories[label] = history
            paper = CHUNG2014[dataset].get(model) if reset_after in (None, False) else None
            rows.append((label, result, paper))
        table = format_table(dataset, rows, baseline)
        print("\n" + table + "\n")
        plot = plot_learning_curves(
            histories, out / f"{dataset}-curves.png", f"Chung 2014 models on {dataset}"
        )
        report += [f"## {dataset}", "", table, "", f"![learning curves]({plot.name})", ""]
    report.append(f"Total wall time: {time.perf_counter() - started:.0f} s.")
    (out / "report.md").write_text("\n".join(report) + "\n")
    print(f"report: {out / 'report.md'}")
    return 0


def command_line(args: argparse.Namespace, datasets: list[str]) -> str:
    """The reproduce command that gives these numbers again."""
    words = ["grukit reproduce chung2014", f"--datasets {','.join(datasets)}"]
    if args.data_dir:
        words.append(f"--data-dir {args.data_dir}")
    words += [
        flag for flag, on in (("--quick", args.quick), ("--all-variants", args.all_variants)) if on
    ]
    words += [
        f"--{name} {value}" for name, value in (("seed", args.seed), ("limit", args.limit)) if value
    ]
    return " ".join(words)


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
