"""The nn.Modules users hold: ``GRU`` (stacked, bidirectional, lengths) and ``GRUCell``."""

from grukit.layers.cell import GRUCell
from grukit.layers.gru import GRU
from grukit.layers.stream import Stream

__all__ = ["GRU", "GRUCell", "Stream"]
