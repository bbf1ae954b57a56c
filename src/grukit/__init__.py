"""grukit: every GRU variant from the literature in one correct, drop-in PyTorch layer.

>>> import torch, grukit
>>> gru = grukit.GRU(8, 16, variant="mgu", batch_first=True)
>>> output, h_n = gru(torch.randn(4, 10, 8), lengths=[10, 7, 3, 1])
"""

from grukit.lazy import lazy_exports

# Imported on first use: `import grukit` does not import torch (see grukit.lazy).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "GRU": "grukit.layers",
        "GRUCell": "grukit.layers",
        "Stream": "grukit.layers",
        "VARIANTS": "grukit.cells",
        "CellSpec": "grukit.cells",
        "cell_spec": "grukit.cells",
    },
)

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "VARIANTS",
    "CellSpec",
    "GRUCell",
    "Stream",
    "cell_spec",
    "load",
    "train_task",
    "__version__",
]


def train_task(task: str | None = None, **options) -> dict:
    """Train a task as ``grukit train`` does and return its result (what result.json
    holds); see ``grukit.run.training.train_task``. Imported on first use, so that
    ``import grukit`` stays light."""
    from grukit.extras import require_extra
    from grukit.run.training import train_task as run

    require_extra("train", "training")
    return run(task, **options)


def load(checkpoint, **options):
    """The predictor of a checkpoint (a classifier, a forecaster, a text generator...):
    its model with its preprocessing, ready for new raw data, chosen by the checkpoint's
    kind; see ``grukit.inference``. ``options`` go to the predictor (e.g. ``engine`` of a
    language model)."""
    from grukit.inference.registry import load as load_checkpoint

    return load_checkpoint(checkpoint, **options)
