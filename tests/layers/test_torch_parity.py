"""grukit.GRU(variant="gru") against torch.nn.GRU with the same state_dict: outputs, h_n and
the gradients of every parameter, the input and hx."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import grukit
from helpers import BACKEND_NAMES, backends, weighted_loss

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
T, B, I, H = 7, 5, 4, 6
# Mixed lengths: 1 and T in the same batch, with ties, in no particular order.
LENGTHS = [T, 1, 4, T, 2]

CASES = list(
    itertools.product(
        [1, 2, 3],  # num_layers
        [False, True],  # bidirectional
        [False, True],  # batch_first
        [False, True],  # with hx
        ["full", "lengths", "packed"],
        [torch.float32, torch.float64],
        BACKEND_NAMES,
    )
)


def case_id(case) -> str:
    layers, bidirectional, batch_first, with_hx, mode, dtype, backend = case
    return (
        f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tf'}-"
        f"{'hx' if with_hx else 'nohx'}-{mode}-{str(dtype)[6:]}-{backend}"
    )


def assert_close(actual, expected, tolerance, what):
    torch.testing.assert_close(
        actual, expected, rtol=tolerance, atol=tolerance, msg=lambda m: f"{what}: {m}"
    )


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch_gru(case):
    layers, bidirectional, batch_first, with_hx, mode, dtype, backend = case
    reference = torch.nn.GRU(
        I, H, layers, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype
    )
    ours = grukit.GRU(
        I,
        H,
        layers,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=dtype,
        backend=backend,
    )
    ours.load_state_dict(reference.state_dict())  # torch's state_dict, unchanged

    shape = (B, T, I) if batch_first else (T, B, I)
    x_ours = torch.randn(shape, dtype=dtype, requires_grad=True)
    x_torch = x_ours.detach().clone().requires_grad_()
    directions = 2 if bidirectional else 1
    hx_ours = (
        torch.randn(layers * directions, B, H, dtype=dtype, requires_grad=True) if with_hx else None
    )
    hx_torch = hx_ours.detach().clone().requires_grad_() if with_hx else None

    def pack(x):
        return pack_padded_sequence(
            x, torch.tensor(LENGTHS), batch_first=batch_first, enforce_sorted=False
        )

    def unpack(packed):
        return pad_packed_sequence(packed, batch_first=batch_first, total_length=T)[0]

    if mode == "full":
        out_ours, hn_ours = ours(x_ours, hx_ours)
        out_torch, hn_torch = reference(x_torch, hx_torch)
    elif mode == "lengths":
        out_ours, hn_ours = ours(x_ours, hx_ours, lengths=torch.tensor(LENGTHS))
        packed_torch, hn_torch = reference(pack(x_torch), hx_torch)
        out_torch = unpack(packed_torch)
    else:
        packed_ours, hn_ours = ours(pack(x_ours), hx_ours)
        packed_torch, hn_torch = reference(pack(x_torch), hx_torch)
        assert isinstance(packed_ours, torch.nn.utils.rnn.PackedSequence)
        assert torch.equal(packed_ours.batch_sizes, packed_torch.batch_sizes)
        assert torch.equal(packed_ours.sorted_indices, packed_torch.sorted_indices)
        assert torch.equal(packed_ours.unsorted_indices, packed_torch.unsorted_indices)
        out_ours, out_torch = packed_ours.data, packed_torch.data

    tolerance = TOLERANCE[dtype]
    assert out_ours.shape == out_torch.shape
    assert_close(out_ours, out_torch, tolerance, "output")
    assert_close(hn_ours, hn_torch, tolerance, "h_n")

    weighted_loss(out_ours, hn_ours).backward()
    weighted_loss(out_torch, hn_torch).backward()
    assert_close(x_ours.grad, x_torch.grad, tolerance, "input grad")
    if with_hx:
        assert_close(hx_ours.grad, hx_torch.grad, tolerance, "hx grad")
    torch_params = dict(reference.named_parameters())
    for name, parameter in ours.named_parameters():
        assert_close(parameter.grad, torch_params[name].grad, tolerance, f"{name} grad")


@backends
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_unbatched_matches_torch(dtype, backend):
    reference = torch.nn.GRU(I, H, 2, bidirectional=True, dtype=dtype)
    ours = grukit.GRU.from_torch(reference, backend=backend)
    x = torch.randn(T, I, dtype=dtype)
    hx = torch.randn(4, H, dtype=dtype)
    out_ours, hn_ours = ours(x, hx)
    out_torch, hn_torch = reference(x, hx)
    assert out_ours.shape == (T, 2 * H) and hn_ours.shape == (4, H)
    assert_close(out_ours, out_torch, TOLERANCE[dtype], "output")
    assert_close(hn_ours, hn_torch, TOLERANCE[dtype], "h_n")


@backends
def test_no_bias_matches_torch(backend):
    reference = torch.nn.GRU(I, H, 2, bias=False, bidirectional=True)
    ours = grukit.GRU(I, H, 2, bias=False, bidirectional=True, backend=backend)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(T, B, I)
    assert_close(ours(x)[0], reference(x)[0], 1e-5, "output")


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_cell_matches_torch_gru_cell(batched):
    reference = torch.nn.GRUCell(I, H, dtype=torch.float64)
    ours = grukit.GRUCell(I, H, dtype=torch.float64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn((B, I) if batched else (I,), dtype=torch.float64)
    hx = torch.randn((B, H) if batched else (H,), dtype=torch.float64)
    assert_close(ours(x, hx), reference(x, hx), 1e-12, "h'")
    assert_close(ours(x), reference(x), 1e-12, "h' from zero state")
