"""Train a model on a task, e.g.

    grukit train --task music --dataset jsb --model gru --hidden 46 --reset-after false
    grukit train --task adding --seq-len 600 --model gru --hidden 150
    grukit train --task copy --model gru --init chrono --t-max 1000
    grukit train --task digits --permuted true
    grukit train --task spoken_digits         # also: vowels, sentiment, sunspots, electricity
    grukit train --task classify --data my.npz   # your own labelled sequences

``grukit train --task NAME --help`` lists that task's data options with its defaults.
Options come from the task's defaults, then ``--config FILE`` (TOML or JSON; sections are
allowed), then the command line (``--lr=0.001`` or ``--lr 0.001``). The run folder gets
metrics.jsonl, best/ and last/ checkpoints (safetensors + JSON), curves.png and
result.json; ``--resume`` continues a killed run where its last checkpoint left it.
"""

from __future__ import annotations

import argparse

HELP = "train a model on a task (music, adding, copy, digits, spoken_digits, ...)"
DEFAULT_TASK = "music"


def task_in(argv: list[str] | None) -> str:
    """The ``--task`` value on a command line (the default if absent), read before parsing,
    so that ``--help`` and the parser show that task's own options."""
    argv = argv or []
    for index, word in enumerate(argv):
        if word == "--task" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--task="):
            return word.split("=", 1)[1]
    return DEFAULT_TASK


def add_arguments(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    from grukit.models import ModelConfig
    from grukit.tasks import TASKS
    from grukit.tasks.runner import task_module
    from grukit.train.config import TrainConfig
    from grukit.train.config import add_arguments as add_fields

    parser.add_argument(
        "--task",
        default=DEFAULT_TASK,
        choices=list(TASKS),
        help=f"the task (default: {DEFAULT_TASK})",
    )
    parser.add_argument(
        "--config", help="TOML or JSON file of options; the command line overrides it"
    )
    parser.add_argument("--out", help="run folder (default: runs/<task data>-<model>-<hidden>)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    name = task_in(argv)
    if name not in TASKS:  # argparse's choices check says so in its own words
        return
    module = task_module(name)
    add_fields(parser, module.DataConfig, title=f"data ({name})")
    add_fields(parser, ModelConfig, module.MODEL_DEFAULTS)
    add_fields(parser, TrainConfig, module.TRAIN_DEFAULTS)


def run(args: argparse.Namespace) -> int:
    from grukit.models import ModelConfig
    from grukit.tasks.runner import task_module, train_task
    from grukit.train.config import TrainConfig, build, read_config_file, unknown_keys

    module = task_module(args.task)
    file_values = read_config_file(args.config) if args.config else {}
    unknown = unknown_keys(file_values, module.DataConfig, ModelConfig, TrainConfig)
    if unknown:
        raise ValueError(f"config: unknown option(s) {', '.join(unknown)} in {args.config}")
    options = vars(args)
    data = build(module.DataConfig, file_values, options)
    model = build(ModelConfig, module.MODEL_DEFAULTS, file_values, options)
    train = build(TrainConfig, module.TRAIN_DEFAULTS, file_values, options)
    out = args.out or f"runs/{data.title}-{model.model}-{model.hidden}"
    result = train_task(args.task, data, model, train, out, resume=args.resume)
    print(summary(result))
    print(f"run folder: {out}")
    return 0


def summary(result: dict) -> str:
    """One line: the model, its size, every split's scores, and how the run went."""
    metric = result["metric"]
    scores = ", ".join(
        f"{split} {result[f'{split}_{metric}']:.4g}" for split in ("train", "valid", "test")
    )
    extra = [
        f"{key} {value:.4g}"
        for key, value in result.items()
        if key.startswith("test_") and key != f"test_{metric}"
    ]
    line = (
        f"{result['model']} ({result['recurrent_parameters']:,} recurrent parameters) on "
        f"{result['data']}: {metric.upper()} {scores}"
        + (f"; {', '.join(extra)}" if extra else "")
        + f" (best epoch {result['best_epoch']} of {result['epochs']}, "
        f"{result['seconds_per_epoch']:.1f} s/epoch, backend {result['backend']})"
    )
    return "\n".join([line, *baseline_lines(result)])


def baseline_lines(result: dict) -> list[str]:
    """One line per baseline a task's report scored: result keys ``{key}`` (its name) and
    ``{key}_test_{score}``."""
    lines = []
    for key, name in result.items():
        if key.endswith("baseline") and isinstance(name, str):
            scores = ", ".join(
                f"{score[len(key) + 6 :]} {value:.4g}"
                for score, value in result.items()
                if score.startswith(f"{key}_test_")
            )
            lines.append(f"baseline {name}: test {scores}")
    return lines
