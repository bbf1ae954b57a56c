"""Streaming: a Stream fed step by step computes what the layer computes in eval mode."""

from __future__ import annotations

import copy

import pytest
import torch

import grukit
from helpers import backends, layer_kwargs, variant_configs

T, B, I, H = 7, 3, 5, 6


@backends
@variant_configs
def test_stream_equals_layer(config, backend):
    layer = grukit.GRU(I, H, 2, backend=backend, **layer_kwargs(config))
    if config[2] == "batch":  # move the running statistics away from (0, 1)
        layer.train()(torch.randn(T, B, I) * 3 + 1)
    layer.eval()
    x = torch.randn(T, B, I)
    hx = torch.randn(2, B, H)
    with torch.no_grad():
        expected, expected_h = layer(x, hx)
    stream = layer.stream(batch_size=B, hx=hx)
    outputs = [stream(x[0])]
    outputs.extend(stream.chunk(x[1:]).unbind(0))
    torch.testing.assert_close(torch.stack(outputs), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stream.state, expected_h, rtol=1e-5, atol=1e-6)
    assert stream.backend == layer.backend_choice().name


@backends
def test_unbatched_stream_and_reset(backend):
    layer = grukit.GRU(I, H, backend=backend).eval()
    x = torch.randn(T, I)
    with torch.no_grad():
        expected = layer(x)[0]
    stream = layer.stream(batch_size=None)
    first = [stream(x_t) for x_t in x]
    stream.reset()
    again = [stream(x_t) for x_t in x]
    torch.testing.assert_close(torch.stack(first), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.stack(again), torch.stack(first), rtol=0, atol=0)
    assert first[0].shape == (H,)


def test_stream_rejects_bad_input():
    layer = grukit.GRU(I, H)
    with pytest.raises(
        ValueError, match=r"layer: got a bidirectional GRU, wanted a unidirectional"
    ):
        grukit.GRU(I, H, bidirectional=True).stream()
    stream = layer.stream(batch_size=2)
    with pytest.raises(ValueError, match=r"x_t: got shape \(3, 5\), wanted \(B=2, I=5\)"):
        stream(torch.randn(3, I))
    with pytest.raises(TypeError, match=r"x_t: got dtype torch.float64, wanted torch.float32"):
        stream(torch.randn(2, I, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"x_t: got list"):
        stream([0.0] * I)
    with pytest.raises(
        ValueError, match=r"hx: got shape \(2, 2, 6\), wanted \(num_layers=1, B=2, H=6\)"
    ):
        stream.reset(torch.randn(2, 2, H))


@backends
@variant_configs
def test_stream_keeps_a_snapshot_of_the_weights(config, backend):
    """Training the layer after making the stream changes nothing in the stream."""
    layer = grukit.GRU(I, H, backend=backend, **layer_kwargs(config)).eval()
    snapshot = copy.deepcopy(layer)
    stream = layer.stream(batch_size=B)
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.add_(torch.randn_like(parameter))
    x = torch.randn(T, B, I)
    with torch.no_grad():
        expected = snapshot(x)[0]
    torch.testing.assert_close(stream.chunk(x), expected, rtol=1e-5, atol=1e-6)
