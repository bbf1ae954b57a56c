"""How to train: the trainer's options (``TrainConfig``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from grukit.config import option, require_at_least, require_non_negative

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "plateau", "cosine", "linear")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """How to train."""

    epochs: int = option(50, "passes over the training split at most")
    batch_size: int = option(8, "sequences per batch")
    optimizer: str = option(
        "adam", "sgd (plain, as Zaremba et al. 2014), rmsprop (Chung et al. 2014), adam or adamw"
    )
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(
        0.0, "L2 penalty on weight matrices only, not biases or gains (decoupled for adamw)"
    )
    clip_norm: float = option(1.0, "clip the gradient's global norm to this; 0 = no clipping")
    weight_noise: float = option(0.0, "std of Gaussian noise added to the weights each batch")
    lr_schedule: str = option(
        "plateau",
        "none, plateau (halve after flat epochs), or cosine or linear decay to 0 over the "
        "run: over its epochs, or over --max-minutes when that ends it first (set each batch)",
    )
    plateau_epochs: int = option(
        3, "plateau: halve the rate after this many epochs without a new best"
    )
    patience: int = option(
        10, "stop after this many epochs without a better validation loss; 0 = never"
    )
    bucket: bool = option(False, "batch sequences of similar length together")
    seed: int = option(0, "seeds the weights, batch order, dropout and weight noise")
    threads: int = option(
        0,
        "CPU threads; 0 = torch's default (one per physical core), with a warning naming a "
        "count that fits when other jobs keep cores busy; torch's layers may round "
        "differently with another count",
    )
    device: str = option("cpu", "cpu, or cuda (cuda:N) where torch sees a CUDA device")
    precision: str = option(
        "fp32",
        "fp32, or bf16: training steps under torch.autocast(bfloat16) (bfloat16 GEMMs, "
        "float32 master weights; on CPU where it has AVX512-BF16); evaluation stays fp32",
    )
    max_minutes: float = option(
        0.0,
        "the run's budget of wall time (0 = no limit), counting the epochs (with their "
        "validation) of the sessions a --resume continues: the epoch under way when it runs "
        "out ends after its current batch, and is evaluated and saved like any other",
    )
    init_from: str = option(
        "",
        "start from the weights of this checkpoint folder (a run's best or last), e.g. one "
        "trained on shorter sequences; the model must have the same shape",
    )

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: got {self.optimizer!r}, wanted one of {', '.join(OPTIMIZERS)}"
            )
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"lr_schedule: got {self.lr_schedule!r}, wanted one of {', '.join(SCHEDULES)}"
            )
        require_at_least(self, 1, "epochs", "batch_size")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device: got {self.device!r}, wanted cpu, cuda or cuda:N")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"precision: got {self.precision!r}, wanted one of {', '.join(PRECISIONS)}"
            )
        if self.threads < 0:
            raise ValueError(f"threads: got {self.threads}, wanted an int >= 0 (0 = auto)")
        require_at_least(self, 0, "patience")
        require_at_least(self, 1, "plateau_epochs")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: got {self.lr}, wanted a finite number > 0")
        require_non_negative(self, "weight_decay", "clip_norm", "weight_noise", "max_minutes")
