"""The variant registry and exact parameter counts, each from its own formula."""

from __future__ import annotations

import pytest
import torch

import grukit
from grukit.cells import cell_spec
from helpers import VARIANT_CONFIGS, config_id, layer_kwargs


def formula(config, I, H, bias=True):
    """Parameters of one layer and direction, written from each paper's equations."""
    variant, reset_after, norm = config
    b = 1 if bias else 0
    extra_hn = H * b if reset_after else 0  # b_hn, which the reset gate multiplies
    return {
        "gru": 3 * (H * I + H * H) + 3 * H * b + (3 * H * b if reset_after else 0),
        "gru1": H * I + 3 * H * H + 3 * H * b + extra_hn,
        "gru2": H * I + 3 * H * H + H * b + extra_hn,
        "gru3": H * I + H * H + 3 * H * b + extra_hn,
        "mgu": 2 * (H * I + H * H + H * b),
        "ligru": 2 * (H * I + H * H) + 2 * H + 2 * H * b,  # + gamma, beta of the norm
        "mingru": 2 * (H * I + H * b),
    }[variant]


def test_chung_2014_budget():
    """Chung et al. 2014, Table 1: 46 units of the original GRU on 100 inputs."""
    layer = grukit.GRU(100, 46, variant="gru", reset_after=False)
    assert sum(p.numel() for p in layer.parameters()) == 20_286


@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_parameter_count(config, bias):
    I, H = 7, 11
    single = grukit.GRU(I, H, bias=bias, **layer_kwargs(config))
    assert sum(p.numel() for p in single.parameters()) == formula(config, I, H, bias)
    assert single.spec.num_parameters(I, H, bias) == formula(config, I, H, bias)
    stacked = grukit.GRU(I, H, 3, bias=bias, bidirectional=True, **layer_kwargs(config))
    expected = 2 * (formula(config, I, H, bias) + 2 * formula(config, 2 * H, H, bias))
    assert sum(p.numel() for p in stacked.parameters()) == expected
    cell = grukit.GRUCell(I, H, bias=bias, **layer_kwargs(config))
    assert sum(p.numel() for p in cell.parameters()) == formula(config, I, H, bias)


def test_gru_is_torch_gru_sized():
    assert sum(p.numel() for p in grukit.GRU(9, 13, 2).parameters()) == sum(
        p.numel() for p in torch.nn.GRU(9, 13, 2).parameters()
    )


def test_variants_tuple():
    assert grukit.VARIANTS == ("gru", "gru1", "gru2", "gru3", "mgu", "ligru", "mingru")
    for variant in grukit.VARIANTS:
        spec = cell_spec(variant)
        assert spec.name == variant and spec.equations


def test_defaults():
    assert cell_spec("gru").reset_after is True
    assert cell_spec("gru3").reset_after is True
    assert cell_spec("mgu").reset_after is None
    assert cell_spec("ligru").norm == "batch"


def test_initialisation_follows_torch():
    """U(-1/sqrt(H), 1/sqrt(H)) for weights and biases; norm scale 1, shift 0."""
    H = 16
    bound = H**-0.5
    for variant in grukit.VARIANTS:
        layer = grukit.GRU(8, H, variant=variant)
        for name, parameter in layer.named_parameters():
            if name.startswith("norm_weight"):
                assert bool((parameter == 1).all()), name
            elif name.startswith("norm_bias"):
                assert bool((parameter == 0).all()), name
            else:
                assert parameter.abs().max() <= bound and parameter.std() > bound / 3, name
        for name, buffer in layer.named_buffers():
            assert bool((buffer == (1 if "var" in name else 0)).all()), name


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"variant": "lstm"}, ValueError, r"variant: got 'lstm', wanted one of gru, gru1"),
        ({"variant": None}, ValueError, r"variant: got None, wanted one of"),
        (
            {"variant": "mgu", "reset_after": False},
            ValueError,
            r"reset_after: got False for variant 'mgu'.*wanted None",
        ),
        (
            {"variant": "gru", "reset_after": "yes"},
            TypeError,
            r"reset_after: got 'yes', wanted True, False or None",
        ),
        (
            {"variant": "mingru", "norm": "layer"},
            ValueError,
            r"norm: got 'layer' for variant 'mingru'; wanted None",
        ),
        (
            {"variant": "mgu", "norm": "batch"},
            ValueError,
            r"norm: got 'batch' for variant 'mgu'; wanted None or 'layer'",
        ),
        (
            {"variant": "ligru", "norm": "group"},
            ValueError,
            r"norm: got 'group', wanted one of batch, layer",
        ),
    ],
)
def test_bad_variant_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        cell_spec(**kwargs)
    with pytest.raises(error, match=message):
        grukit.GRU(3, 4, **kwargs)


def test_the_gru_familys_step_is_one_statement_for_torch_and_numpy():
    """grukit.cells.equations.gated_step, the reference runner's step, gives the NumPy
    engine the same numbers on arrays, and its module imports no torch."""
    import subprocess
    import sys

    import numpy as np
    import torch

    from grukit.cells.equations import gated_step, gru_family_flags

    rng = np.random.default_rng(0)
    for name in ("gru", "gru1", "gru2", "gru3"):
        for reset_after in (True, False):
            spec = cell_spec(name, reset_after)
            layer = torch.nn.Module()
            for role, shape in spec.parameter_shapes(5, 4).items():
                layer.register_parameter(role, torch.nn.Parameter(torch.randn(shape).double()))
            params = dict(layer.named_parameters())
            gi = torch.from_numpy(rng.normal(size=(3, len(spec.input_gates) * 4)))
            h = torch.from_numpy(rng.normal(size=(3, 4)))
            with torch.no_grad():
                expected = spec.step(gi, h, params).numpy()
            arrays = {role: value.detach().numpy() for role, value in params.items()}
            flags = gru_family_flags(name, reset_after)
            got = gated_step(gi.numpy(), h.numpy(), arrays, **flags)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    code = "import sys, grukit.cells.equations; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
