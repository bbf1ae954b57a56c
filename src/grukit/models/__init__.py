"""Task heads on top of the layers."""

from grukit.models.polyphonic import PolyphonicModel, polyphonic_nll

__all__ = ["PolyphonicModel", "polyphonic_nll"]
