"""The gradient study: for a tanh RNN, an LSTM and each grukit variant (all at the
parameter count of a ``hidden``-unit GRU), the norm of dLoss/dh_t against the distance from
the loss on the adding problem, untrained and after ``epochs`` of training there
(``grukit.analysis.gradients`` computes one curve). Writes gradients.png (log scale),
gradients.md (the tables), gradients.json and each trained model's run folder into
``out``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from grukit.analysis.gradients import decay_table, plot_gradient_decay, state_gradient_norms
from grukit.config import option
from grukit.models import MODELS, ModelConfig
from grukit.models.recurrent import hidden_for_budget, parameter_count
from grukit.run.evaluation import load_checkpoint_model
from grukit.run.options import RunConfig
from grukit.run.training import run_training
from grukit.tasks.synthetic.adding import AddingTask, DataConfig
from grukit.train.config import TrainConfig

DISTANCES = [0, 10, 25, 50, 100, 150, 199, 299, 499, 999]
DEFAULT_MODELS = (
    "rnn",
    "lstm",
    "gru",
    "gru+chrono",
    "gru1",
    "gru2",
    "gru3",
    "mgu",
    "ligru",
    "mingru",
)


@dataclass
class GradientStudy:
    """The gradient study's options."""

    # grukit analyze gradients makes its flags from these fields.

    seq_len: int = option(200, "T, the adding problem's length")
    models: tuple[str, ...] = option(
        DEFAULT_MODELS,
        "comma-separated; NAME+chrono: chrono init with t_max = --seq-len (default: rnn, "
        "lstm, every grukit variant and gru+chrono)",
    )
    hidden: int = option(64, "GRU width setting the parameter budget")
    epochs: int = option(3, "training epochs per model")
    train_size: int = option(5000, "training sequences")
    batch: int = option(64, "sequences measured")
    seed: int = option(0, "random seed of the data and the models")
    out: str = option("runs/gradients", "the study's folder")

    def __post_init__(self) -> None:
        for token in self.models:
            if token.removesuffix("+chrono") not in MODELS:
                raise ValueError(
                    f"models: got {token!r}, wanted some of {', '.join(MODELS)} (each may end "
                    "in +chrono)"
                )
        if self.seq_len < 2:
            raise ValueError(f"seq-len: got {self.seq_len}, wanted an int >= 2")


def run_study(study: GradientStudy, log=None) -> dict[str, Path]:
    """Measure, train, measure again; write the files; return their paths
    ({"plot", "table", "tables": {stage: markdown}})."""
    log = sys.stderr if log is None else log
    out = Path(study.out)
    out.mkdir(parents=True, exist_ok=True)
    data = DataConfig(
        seq_len=study.seq_len,
        train_size=study.train_size,
        test_size=study.batch,
        data_seed=study.seed,
    )
    task = AddingTask.from_config(data)
    batch = task.batch("test", list(range(study.batch)))
    inputs, targets = batch.inputs, batch.targets
    budget = parameter_count(ModelConfig(hidden=study.hidden), AddingTask.input_size)
    train = TrainConfig(epochs=study.epochs, batch_size=32, lr=2e-3, seed=study.seed, patience=0)
    panels: dict[str, dict] = {"untrained": {}, "trained": {}}

    def loss(model, last_state):
        return ((model.readout(last_state)[:, 0] - targets.double()) ** 2).mean()

    for token in study.models:
        name = token.removesuffix("+chrono")
        hidden = hidden_for_budget(name, budget, AddingTask.input_size)
        chrono = {"init": "chrono", "t_max": study.seq_len} if token.endswith("+chrono") else {}
        config = ModelConfig(model=name, hidden=hidden, **chrono)
        label = f"{token} ({hidden})"
        print(f"[gradients] {label}: untrained, then training ...", file=log, flush=True)
        torch.manual_seed(study.seed)
        for stage in ("untrained", "trained"):
            if stage == "untrained":
                model = task.build_model(config)
            else:
                run_dir = out / "models" / f"{token.replace('+', '-')}-{hidden}"
                run_training(
                    RunConfig("adding", data, config, train, str(run_dir)), resume=True, log=log
                )
                _, model, _ = load_checkpoint_model(run_dir / "best")
            model.eval()
            panels[stage][label] = state_gradient_norms(model, inputs, loss)
    title = f"gradient reaching h_(T-d) on the adding problem, T={study.seq_len}"
    plot = plot_gradient_decay(panels, out / "gradients.png", title)
    distances = [d for d in DISTANCES if d < study.seq_len]
    tables = {stage: decay_table(curves, distances) for stage, curves in panels.items()}
    report = [f"# {title}", ""]
    for stage, table in tables.items():
        report += [f"## {stage}", "", "||dL/dh_(T-d)|| / ||dL/dh_T||:", "", table, ""]
    report.append(f"![gradients]({plot.name})")
    (out / "gradients.md").write_text("\n".join(report) + "\n")
    (out / "gradients.json").write_text(
        json.dumps(
            {
                stage: {label: norms.tolist() for label, norms in curves.items()}
                for stage, curves in panels.items()
            }
        )
    )
    return {"plot": plot, "table": out / "gradients.md", "tables": tables}
