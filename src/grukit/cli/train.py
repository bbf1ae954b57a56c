"""Train a model on a task, e.g.

    grukit train --task music --dataset jsb --model gru --hidden 46 --reset-after false

Options come from their defaults, then ``--config FILE`` (TOML or JSON; sections are
allowed), then the command line (``--lr=0.001`` or ``--lr 0.001``). The run folder gets
metrics.jsonl, best/ and last/ checkpoints (safetensors + JSON), curves.png and
result.json; ``--resume`` continues a killed run where its last checkpoint left it.
"""

from __future__ import annotations

import argparse

HELP = "train a model on a task (music: next-step polyphonic piano rolls)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from grukit.tasks.music import MusicConfig
    from grukit.train.config import TrainConfig
    from grukit.train.config import add_arguments as add_fields

    parser.add_argument(
        "--task", default="music", choices=["music"], help="the task (default: music)"
    )
    parser.add_argument(
        "--config", help="TOML or JSON file of options; the command line overrides it"
    )
    parser.add_argument("--out", help="run folder (default: runs/<dataset>-<model>-<hidden>)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )
    add_fields(parser, MusicConfig)
    add_fields(parser, TrainConfig)


def run(args: argparse.Namespace) -> int:
    from grukit.tasks.music import MusicConfig, train_music
    from grukit.train.config import TrainConfig, build, read_config_file, unknown_keys

    file_values = read_config_file(args.config) if args.config else {}
    unknown = unknown_keys(file_values, MusicConfig, TrainConfig)
    if unknown:
        raise ValueError(f"config: unknown option(s) {', '.join(unknown)} in {args.config}")
    options = vars(args)
    music = build(MusicConfig, file_values, options)
    train = build(TrainConfig, file_values, options)
    out = args.out or f"runs/{music.dataset}-{music.model}-{music.hidden}"
    result = train_music(music, train, out, resume=args.resume)
    print(
        f"{music.model} ({result['recurrent_parameters']:,} recurrent parameters) on "
        f"{music.dataset}: NLL train {result['train_nll']:.3f}, valid {result['valid_nll']:.3f}, "
        f"test {result['test_nll']:.3f} (best epoch {result['best_epoch']} of {result['epochs']}, "
        f"{result['seconds_per_epoch']:.1f} s/epoch, backend {result['backend']})"
    )
    print(f"run folder: {out}")
    return 0
