"""Tasks: a data set, a model's loss on its batches, for the trainer."""

from grukit.tasks.music import MusicTask

__all__ = ["MusicTask"]
