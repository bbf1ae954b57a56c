"""Chrono initialisation (Tallec & Ollivier 2018): with no input and no recurrent weights,
unit j keeps a fraction u_j / (1 + u_j) of its state per step, u_j ~ U(1, t_max - 1), so its
forgetting time 1 / (1 - keep) = 1 + u_j spreads over 2..t_max. Measured through the layer's
own step, so the bias layout and the gate's sign convention of every variant are checked."""

from __future__ import annotations

import math

import pytest
import torch

import grukit
from helpers import VARIANT_CONFIGS, config_id, layer_kwargs

CHRONO_CONFIGS = [config for config in VARIANT_CONFIGS if config[0] != "gru2"]
H, T_MAX = 512, 600.0


def forgetting_times(layer: grukit.GRU) -> torch.Tensor:
    """1 / (1 - keep) per unit, where keep = dh'/dh with every weight zeroed (biases kept):
    h' is then affine in h, so keep = (h'(h=1) - h'(h=-1)) / 2."""
    with torch.no_grad():
        for name, tensor in layer.named_parameters():
            if name.startswith("weight_"):
                tensor.zero_()
    layer.eval()
    x = torch.zeros(1, 2, layer.input_size, dtype=torch.float64)
    h0 = torch.stack([torch.ones(H), -torch.ones(H)]).to(torch.float64)[None]
    with torch.no_grad():
        _, h1 = layer(x, h0)
    keep = (h1[0, 0] - h1[0, 1]) / 2
    return 1 / (1 - keep)


@pytest.mark.parametrize("config", CHRONO_CONFIGS, ids=config_id)
def test_chrono_spreads_forgetting_times_over_2_to_t_max(config):
    torch.manual_seed(0)
    layer = grukit.GRU(
        3, H, init="chrono", t_max=T_MAX, dtype=torch.float64, **layer_kwargs(config)
    )
    times = forgetting_times(layer)
    scales = times - 1  # u_j, uniform on [1, t_max - 1]
    assert scales.min() >= 1 - 1e-9 and scales.max() <= T_MAX - 1 + 1e-9
    mean, spread = (T_MAX) / 2, (T_MAX - 2) / math.sqrt(12)
    assert abs(scales.mean() - mean) < 4 * spread / math.sqrt(H)
    assert abs(scales.std() - spread) < 0.1 * spread
    torch.manual_seed(0)
    default = grukit.GRU(3, H, dtype=torch.float64, **layer_kwargs(config))
    assert forgetting_times(default).max() < 3  # torch's init: about two steps


def test_chrono_on_the_cell_and_in_repr():
    torch.manual_seed(0)
    cell = grukit.GRUCell(2, 64, init="chrono", t_max=100)
    assert "init='chrono', t_max=100" in repr(cell)
    z_bias = cell.bias_ih[64:128] + cell.bias_hh[64:128]  # torch layout r, z, n
    assert torch.equal(cell.bias_hh[64:128], torch.zeros(64))
    assert z_bias.min() >= 0 and z_bias.max() <= math.log(99) + 1e-6
    assert "init='chrono', t_max=600" in repr(grukit.GRU(2, 4, init="chrono", t_max=600))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"init": "xavier"}, ValueError, "init: got 'xavier', wanted one of default, chrono"),
        ({"init": "chrono"}, ValueError, "t_max: got None, wanted a finite number > 2"),
        ({"init": "chrono", "t_max": 2}, ValueError, "t_max: got 2, wanted a finite number > 2"),
        ({"t_max": 100}, ValueError, "t_max: got 100 with init='default'"),
        (
            {"init": "chrono", "t_max": 100, "variant": "gru2"},
            ValueError,
            "init: got 'chrono' for variant 'gru2', which has no update-gate bias",
        ),
        (
            {"init": "chrono", "t_max": 100, "bias": False},
            ValueError,
            "init: got 'chrono' for variant 'gru', which has no update-gate bias",
        ),
    ],
)
def test_bad_chrono_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        grukit.GRU(2, 4, **kwargs)
