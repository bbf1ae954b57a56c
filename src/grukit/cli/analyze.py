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
    gradients.add_argument("--seq-len", type=int, default=200, help="T (default: 200)")
    gradients.add_argument(
        "--models",
        default="rnn,lstm,gru,gru+chrono,gru1,gru2,gru3,mgu,ligru,mingru",
        help="comma-separated; NAME+chrono: chrono init with t_max = --seq-len "
        "(default: rnn, lstm, every grukit variant and gru+chrono)",
    )
    gradients.add_argument(
        "--hidden", type=int, default=64, help="GRU width setting the budget (default: 64)"
    )
    gradients.add_argument(
        "--epochs", type=int, default=3, help="training epochs per model (default: 3)"
    )
    gradients.add_argument(
        "--train-size", type=int, default=5000, help="training sequences (default: 5000)"
    )
    gradients.add_argument("--batch", type=int, default=64, help="sequences measured (default: 64)")
    gradients.add_argument("--seed", type=int, default=0, help="(default: 0)")
    gradients.add_argument("--out", default="runs/gradients", help="(default: runs/gradients)")
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
    from grukit.experiments.gradients import GradientStudy, run_study

    study = GradientStudy(
        seq_len=args.seq_len,
        models=tuple(token.strip() for token in args.models.split(",") if token.strip()),
        hidden=args.hidden,
        epochs=args.epochs,
        train_size=args.train_size,
        batch=args.batch,
        seed=args.seed,
        out=args.out,
    )
    written = run_study(study)
    for stage, table in written["tables"].items():
        print(f"\n{stage}:\n{table}")
    print(f"\nplot: {written['plot']}\ntable: {written['table']}")
    return 0


def analyze_gates(args: argparse.Namespace) -> int:
    import torch

    from grukit.analysis.gates import describe, gate_maps, plot_gate_maps
    from grukit.layers import GRU
    from grukit.tasks.runner import load_checkpoint_model

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
    inputs = next(batch for index, batch in enumerate(batches) if index == args.index)[0]
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
