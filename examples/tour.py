"""A two-second tour of grukit: every variant, its equations and parameter count, and the
`gru` variant checked against torch.nn.GRU on a padded batch.

Run with `make demo` (it installs what it needs) or `python examples/tour.py`.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import grukit


def variant_table(input_size: int = 100, hidden_size: int = 46) -> None:
    """Each variant's parameters at Chung et al. 2014's GRU budget (46 units, 100 inputs)."""
    print(f"Every variant, one layer, input {input_size}, hidden {hidden_size}:\n")
    print(f"{'variant':<25} {'params':>7}  equations")
    for variant in grukit.VARIANTS:
        forms = [True, False] if variant in ("gru", "gru1", "gru2", "gru3") else [None]
        for reset_after in forms:
            layer = grukit.GRU(input_size, hidden_size, variant=variant, reset_after=reset_after)
            label = variant + ("" if reset_after is None else f" (reset_after={reset_after})")
            params = sum(p.numel() for p in layer.parameters())
            print(f"{label:<25} {params:>7,}  {layer.spec.equations}")
    print("\n(Chung et al. 2014, Table 1: the original GRU with 46 units has 20,286.)\n")


def parity_with_torch() -> None:
    """A padded batch through torch.nn.GRU (packed) and grukit.GRU (lengths), same weights."""
    torch.manual_seed(0)
    reference = torch.nn.GRU(16, 32, num_layers=2, bidirectional=True, batch_first=True)
    layer = grukit.GRU.from_torch(reference)
    x = torch.randn(4, 50, 16)
    lengths = torch.tensor([50, 1, 23, 37])  # any order, no sorting asked of the caller

    output, h_n = layer(x, lengths=lengths)
    packed, torch_h_n = reference(
        pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    )
    torch_output = pad_packed_sequence(packed, batch_first=True, total_length=50)[0]
    print("grukit.GRU vs torch.nn.GRU, 2 layers, bidirectional, lengths [50, 1, 23, 37]:")
    print(f"  max |output difference| = {(output - torch_output).abs().max():.2e}")
    print(f"  max |h_n difference|    = {(h_n - torch_h_n).abs().max():.2e}")
    print(f"  outputs past each length are zero: {bool((output[1, 1:] == 0).all())}")
    print(f"\n{layer.explain()}")


if __name__ == "__main__":
    variant_table()
    parity_with_torch()
