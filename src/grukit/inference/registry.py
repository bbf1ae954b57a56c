"""Checkpoint kinds -> predictors: how ``grukit.load`` and the commands that read a
checkpoint (``grukit predict``, ``grukit generate``) find what serves it, without naming
any task.

Every checkpoint that offers prediction on new data says its kind in
``extra.preprocessing.kind`` (a task's ``preprocessing()`` writes it). A kind maps to a
:class:`~grukit.inference.predictors.Predictor` class, given here as "module:Class"
(imported only when a checkpoint of that kind is read), registered from your own code
with :func:`register`, or from another installed package through an entry point of the
group ``grukit.predictors`` (``kind = "package.module:Class"``), which ``grukit
predict`` finds with no edit inside grukit.

A predictor class says which commands serve it (``commands``: "predict", "generate", and
later "translate", "transcribe"); asking another command for it is one line naming the
right one.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

from grukit.checkpoint import CheckpointError, checkpoint_folder, read_state

ENTRY_POINT_GROUP = "grukit.predictors"

KINDS: dict[str, str | type] = {
    "sequences": "grukit.inference.predictors:SequenceClassifier",
    "text": "grukit.inference.predictors:TextClassifier",
    "series": "grukit.inference.predictors:Forecaster",
    "lm": "grukit.inference.generation:TextGenerator",
}
"""Kind -> "module:Class" of its predictor (imported on first use), or the class itself."""


def register(kind: str, predictor: type | str) -> None:
    """Serve checkpoints whose ``preprocessing["kind"]`` is ``kind`` with ``predictor``
    (a Predictor class, or "module:Class")."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind: got {kind!r}, wanted a non-empty str")
    if kind in KINDS:
        raise ValueError(f"kind: {kind!r} is registered already (to {KINDS[kind]!r})")
    KINDS[kind] = predictor


def _import(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def predictor_class(kind: str) -> type:
    """The Predictor class of ``kind``: registered here, or by an installed package's entry
    point; ValueError naming the kinds known."""
    if kind not in KINDS:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.name == kind:
                KINDS[kind] = point.value
                break
    if kind not in KINDS:
        raise ValueError(
            f"checkpoint: its kind {kind!r} has no predictor here (known: "
            f"{', '.join(sorted(KINDS))}); install or register the package that made it"
        )
    found = KINDS[kind]
    if isinstance(found, str):
        found = KINDS[kind] = _import(found)
    return found


class SavedCheckpoint:
    """A checkpoint folder as a predictor reads it: its state (config, extra) read now,
    the tensors when asked, as NumPy arrays (no torch) or as the model itself.

    ``path``: the checkpoint folder (a run folder is taken as its ``best/``, with a note on
    stderr)."""

    def __init__(self, path: str | Path) -> None:
        folder, note = checkpoint_folder(path)
        if note:
            print(note, file=sys.stderr)
        self.path = folder
        self.state = read_state(folder)
        self.config: dict = self.state.get("config") or {}
        self.extra: dict = self.state.get("extra") or {}
        self.preprocessing: dict = self.extra.get("preprocessing") or {}
        self.model_shape: dict | None = self.extra.get("model_shape")

    @property
    def kind(self) -> str | None:
        """The checkpoint's kind (module docstring). Language models saved before the
        kind was written are known by their shape: a per-step read-out over token ids."""
        kind = self.preprocessing.get("kind")
        shape = self.model_shape or {}
        if kind is None and shape.get("head") == "step" and shape.get("vocabulary_size"):
            return "lm"
        return kind

    def arrays(self) -> dict:
        """The model's weights as NumPy arrays, names without ``model.`` (torch not
        imported)."""
        from grukit.checkpoint import read_checkpoint

        tensors, _ = read_checkpoint(self.path, framework="np", prefix="model.")
        return {name[len("model.") :]: array for name, array in tensors.items()}

    def model(self):
        """The torch model, rebuilt as training built it (``grukit.models.load_model``)."""
        from grukit.models import load_model

        return load_model(self.path)[0]


def load(path: str | Path, *, command: str | None = None, **options):
    """The predictor of a checkpoint folder, found by its kind; ``command`` (e.g.
    "generate"): ValueError unless that command serves this kind, naming the one that
    does; ``options`` go to the predictor's ``from_checkpoint`` (e.g. ``engine``)."""
    checkpoint = SavedCheckpoint(path)
    kind = checkpoint.kind
    if kind is None:
        if checkpoint.model_shape is None:
            raise CheckpointError(
                f"checkpoint: {str(checkpoint.path)!r} was written before grukit saved what "
                "prediction needs (model shape, preprocessing); grukit eval still scores it, "
                "or train it again"
            )
        raise ValueError(
            f"checkpoint: {str(checkpoint.path)!r} holds a model of task "
            f"{checkpoint.config.get('task')!r}, which offers no prediction on new data; "
            "grukit eval scores it on its own splits"
        )
    cls = predictor_class(kind)
    if command is not None and command not in cls.commands:
        raise ValueError(
            f"{command}: {str(checkpoint.path)!r} holds a {cls.description}; "
            f"grukit {cls.commands[0]} serves it"
        )
    return cls.from_checkpoint(checkpoint, **options)
