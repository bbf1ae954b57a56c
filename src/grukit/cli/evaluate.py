"""Score a checkpoint on a split: the task and model are rebuilt from the config saved
with it."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint folder (a run's best/ or last/)")
    parser.add_argument(
        "--split", default="test", choices=["train", "valid", "test"], help="(default: test)"
    )


def run(args: argparse.Namespace) -> int:
    from grukit.run.evaluation import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.split)
    scores = ", ".join(f"{name.upper()} {value:.4g}" for name, value in result["scores"].items())
    print(
        f"{result['model']} on {result['data']} {result['split']}: {scores} "
        f"(checkpoint after epoch {result['epoch']})"
    )
    return 0
