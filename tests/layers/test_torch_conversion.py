"""Exact weight conversion between grukit.GRU and torch.nn.GRU, both ways."""

from __future__ import annotations

import pytest
import torch

import grukit


def test_from_torch_copies_configuration_and_weights():
    source = torch.nn.GRU(
        5, 7, 2, batch_first=True, bidirectional=True, dropout=0.25, dtype=torch.float64
    ).eval()
    layer = grukit.GRU.from_torch(source)
    assert (layer.input_size, layer.hidden_size, layer.num_layers) == (5, 7, 2)
    assert (
        layer.batch_first and layer.bidirectional and layer.dropout == 0.25 and not layer.training
    )
    assert layer.weight_ih_l0.dtype == torch.float64
    source_state = source.state_dict()
    assert list(layer.state_dict()) == list(source_state)
    for name, tensor in layer.state_dict().items():
        assert torch.equal(tensor, source_state[name]), name
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], source(x)[0], rtol=1e-12, atol=1e-12)


def test_round_trip_is_exact():
    layer = grukit.GRU(5, 7, 3, bias=False, bidirectional=True)
    back = layer.to_torch()
    assert isinstance(back, torch.nn.GRU) and not back.bias and back.num_layers == 3
    again = grukit.GRU.from_torch(back)
    for name, tensor in layer.state_dict().items():
        assert torch.equal(tensor, back.state_dict()[name]) and torch.equal(
            tensor, again.state_dict()[name]
        )


def test_torch_state_dict_loads_unchanged_both_ways():
    source = torch.nn.GRU(5, 7, 2)
    layer = grukit.GRU(5, 7, 2)
    layer.load_state_dict(source.state_dict())  # strict: same keys, same shapes
    target = torch.nn.GRU(5, 7, 2)
    target.load_state_dict(layer.state_dict())
    for name, tensor in source.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor)


@pytest.mark.parametrize("kwargs", [{"variant": "mgu"}, {"variant": "gru", "reset_after": False}])
def test_to_torch_refuses_other_forms(kwargs):
    with pytest.raises(ValueError, match=r"variant: got .* wanted 'gru' with reset_after=True"):
        grukit.GRU(5, 7, **kwargs).to_torch()


def test_from_torch_refuses_other_modules():
    with pytest.raises(TypeError, match=r"module: got LSTM, wanted a torch.nn.GRU"):
        grukit.GRU.from_torch(torch.nn.LSTM(5, 7))


def test_state_dict_of_other_variant_does_not_fit_torch():
    with pytest.raises(RuntimeError, match="size mismatch"):
        torch.nn.GRU(5, 7).load_state_dict(grukit.GRU(5, 7, variant="gru1").state_dict())


def test_flatten_parameters_and_repr():
    layer = grukit.GRU(
        5, 7, 2, batch_first=True, variant="ligru", norm="layer", backend="reference"
    )
    layer.flatten_parameters()
    assert repr(layer) == (
        "GRU(5, 7, num_layers=2, batch_first=True, variant='ligru', norm='layer', "
        "backend='reference')"
    )
    assert "backend: reference (asked for backend='reference')" in layer.explain()
    assert "relu" in layer.explain()
