"""Train a model on a task, e.g.

    grukit train --task music --dataset jsb --model gru --hidden 46 --no-reset-after
    grukit train --task adding --seq-len 600 --model gru --hidden 150
    grukit train --task copy --model gru --init chrono --t-max 1000
    grukit train --task digits --permuted
    grukit train --task spoken_digits         # also: vowels, sentiment, sunspots, electricity
    grukit train --task classify --data my.npz   # your own labelled sequences
    grukit train --out runs/jsb-gru --resume     # continue a run with its saved options

``grukit train --task NAME --help`` lists that task's options with its own defaults.
Options come from the task's defaults, then ``--config FILE`` (TOML or JSON; sections are
allowed, and it may name ``task`` and ``out``; every run folder's config.json is one),
then the command line (``--lr=0.001`` or ``--lr 0.001``). The run folder gets config.json,
metrics.jsonl, best/ and last/ checkpoints (safetensors + JSON), curves.png and
result.json; ``--resume`` continues a killed run where its last checkpoint left it.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path


def word_after(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` on a command line (``--flag V`` or ``--flag=V``), or None."""
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def task_in(argv: list[str] | None) -> tuple[str, bool]:
    """(the task a command line trains, whether it was named), read before parsing so that
    ``--help`` and the parser show that task's own options: ``--task``, else the config
    file's ``task``, else the task of the run ``--resume`` continues, else the default."""
    from grukit.config import read_config_file
    from grukit.run.options import DEFAULT_TASK, holds_run, saved_run_options

    argv = argv or []
    named = word_after(argv, "--task")
    if named:
        return named, True
    config = word_after(argv, "--config")
    if config and Path(config).is_file():
        try:
            named = read_config_file(config).get("task")
        except ValueError:
            named = None  # run() reports the broken file
        if named:
            return named, True
    out = word_after(argv, "--out")
    if "--resume" in argv and out and holds_run(out):
        try:
            return saved_run_options(out)["task"], True
        except (ValueError, KeyError, FileNotFoundError):
            pass
    return DEFAULT_TASK, False


def add_arguments(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    from grukit.config import add_arguments as add_fields
    from grukit.models import ModelConfig
    from grukit.run.options import DEFAULT_TASK, task_class
    from grukit.tasks import TASKS
    from grukit.train.config import TrainConfig

    name, named = task_in(argv)
    parser.add_argument(
        "--task",
        choices=list(TASKS),
        help=f"the task (default: {DEFAULT_TASK}); the other options' defaults depend on it"
        + ("" if named else f": shown below for {DEFAULT_TASK}, see --task NAME --help"),
    )
    parser.add_argument(
        "--config", help="TOML or JSON file of options; the command line overrides it"
    )
    parser.add_argument("--out", help="run folder (default: runs/<task data>-<model>-<hidden>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, with its saved options",
    )
    if name not in TASKS:  # argparse's choices check says so in its own words
        return
    cls = task_class(name)
    add_fields(
        parser,
        cls.Data,
        title=f"data ({name})",
        skip=getattr(cls.Data, "IGNORED_OPTIONS", ()),
    )
    add_fields(
        parser,
        ModelConfig,
        cls.model_defaults,
        title="model",
        skip=cls.ignored_model_options(),
    )
    add_fields(parser, TrainConfig, cls.train_defaults, title="training")


def run(args: argparse.Namespace) -> int:
    from grukit.extras import require_extra
    from grukit.run.training import train_task

    require_extra("train", "training")
    options = {
        key: value
        for key, value in vars(args).items()
        if key not in ("command", "task", "config", "out", "resume")
    }
    try:
        result = train_task(
            args.task, config=args.config, out=args.out, resume=args.resume, **options
        )
    except KeyboardInterrupt:
        command = resume_command(args, options)
        if command is None:
            raise
        raise KeyboardInterrupt(f"resume it with: {command}") from None
    print(summary(result))
    print(f"run folder: {result['out']}")
    return 0


def resume_command(args: argparse.Namespace, options: dict) -> str | None:
    """The command that continues an interrupted run (``grukit train --out FOLDER
    --resume``), or None where its folder holds no run yet (stopped before it began)."""
    from grukit.run.options import configure, holds_run

    out = args.out
    if out is None:  # the folder configure named (runs/<data>-<model>-<hidden>, or the file's)
        try:
            out = configure(args.task, config=args.config, **options).out
        except (ValueError, OSError):  # stopped while the options were read: no run yet
            return None
    if not holds_run(out):
        return None
    return f"grukit train --out {shlex.quote(str(out))} --resume"


def summary(result: dict) -> str:
    """One line: the model, its size, every split's scores, and how the run went; then one
    line per baseline."""
    metric = result["metric"]
    scores = ", ".join(
        f"{split} {result[f'{split}_{metric}']:.4g}"
        for split in ("train", "valid", "test")
        if f"{split}_{metric}" in result  # (the lm task leaves the train split out)
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
        f"{result['seconds_per_epoch']:.1f} s/epoch, backend {result['backend']}, "
        f"{result['threads']} thread{'s' if result['threads'] != 1 else ''})"
    )
    return "\n".join([line, *baseline_lines(result)])


def baseline_lines(result: dict) -> list[str]:
    """One line per baseline the task scored: its name and its test scores."""
    return [
        f"baseline {baseline['name']}: test "
        + ", ".join(
            f"{key.removeprefix('test_')} {value:.4g}" for key, value in baseline["scores"].items()
        )
        for baseline in result.get("baselines", [])
    ]
