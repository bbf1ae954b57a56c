"""Look inside recurrent units.

    grukit analyze gradients [--seq-len 200] [--models rnn,lstm,gru,...]
    grukit analyze gates CHECKPOINT [--split test] [--index 0]

``gradients``: for a tanh RNN, an LSTM and each grukit variant (all at the parameter count
of a --hidden-unit GRU), the norm of dLoss/dh_t against the distance from the loss on the
adding problem, untrained and after --epochs of training there: gradients.png (log scale),
gradients.md (the table), and each trained model's run folder under --out.

``gates``: heat maps of the update gate (as the fraction each unit keeps) and the reset
gate over one sequence of a checkpoint's own task (a JSB chorale, an adding-problem
sequence, a digit...): gates.png next to the checkpoint, or in --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    gradients = kinds.add_parser("gradients", help="dLoss/dh_t against the distance from the loss")
    from grukit.config import add_arguments as add_options
    from grukit.experiments.gradients import GradientStudy

    add_options(gradients, GradientStudy, title="the study")
    gates = kinds.add_parser("gates", help="gate heat maps over one sequence")
    gates.add_argument("checkpoint", help="a checkpoint folder of a grukit-variant model")
    gates.add_argument("--split", default="test", choices=["train", "valid", "test"])
    gates.add_argument("--index", type=int, default=0, help="which sequence (default: 0)")
    gates.add_argument("--out", help="folder for gates.png (default: the checkpoint's run)")


def run(args: argparse.Namespace) -> int:
    from grukit.extras import require_extra

    require_extra("train", "analyzing")  # trains (gradients) and draws (both)
    return analyze_gradients(args) if args.analysis == "gradients" else analyze_gates(args)


def analyze_gradients(args: argparse.Namespace) -> int:
    from grukit.config import build
    from grukit.experiments.gradients import GradientStudy, run_study

    study = build(GradientStudy, vars(args))
    written = run_study(study)
    for stage, table in written["tables"].items():
        print(f"\n{stage}:\n{table}")
    print(f"\nplot: {written['plot']}\ntable: {written['table']}")
    return 0


def analyze_gates(args: argparse.Namespace) -> int:
    import torch

    from grukit.analysis.gates import describe, gate_maps, plot_gate_maps
    from grukit.data.batching import Batch
    from grukit.layers import GRU
    from grukit.run.evaluation import load_checkpoint_model

    task, model, state = load_checkpoint_model(args.checkpoint)
    if not isinstance(model.recurrent, GRU):
        raise ValueError(
            f"checkpoint: {args.checkpoint!r} holds a {state['config']['model']['model']} "
            "model; gates are drawn for grukit variants"
        )
    model.eval()
    count = sum(1 for _ in task.batches(args.split, 1, shuffle=False, seed=0, bucket=False))
    if not 0 <= args.index < count:
        raise ValueError(f"index: got {args.index}, wanted 0..{count - 1} ({args.split} split)")
    batches = task.batches(args.split, 1, shuffle=False, seed=0, bucket=False)
    batch = next(batch for index, batch in enumerate(batches) if index == args.index)
    inputs = Batch.of(batch).inputs
    with torch.no_grad():
        inputs = model.embedding(inputs)  # token ids: the embedded features the layer reads
    maps = gate_maps(model.recurrent, inputs)
    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    out.mkdir(parents=True, exist_ok=True)
    title = f"{model.recurrent.variant} on {task.title}, {args.split} sequence {args.index}"
    path = plot_gate_maps(inputs, maps, out / "gates.png", title)
    print(describe(maps))
    print(f"plot: {path}")
    return 0
