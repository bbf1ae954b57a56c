"""bfloat16 GEMMs in the fused kernels: against the float32 reference for every variant,
under autocast and with bfloat16 parameters, and the choice of precision.

Tolerance: each GEMM operand is rounded to bfloat16 (relative error <= 2^-9), the sums are
float32, so a product's relative error is about 2^-8 = 0.004; a contracting recurrence does
not grow it over the steps. Outputs (|h| <= 1) are held to 0.02 absolute, gradients to 0.02
in relative norm: 3-10x what was measured (outputs 2-3.4e-3, gradients 2.6-6.2e-3). Each
test also requires the result to differ from float32's by more than float32 rounding could,
so a silent float32 fallback fails it.
"""

from __future__ import annotations

import pytest
import torch

import grukit
from grukit.kernels import dispatch
from grukit.kernels.cpu import ops
from grukit.kernels.cpu.build import cpu_flags
from helpers import layer_kwargs, variant_configs, weighted_loss

T, B, I, H = 11, 5, 6, 37  # odd H and I: the packed blocks' and K's remainders
LENGTHS = [T, 1, 4, T, 7]

SUPPORTED, WHY = dispatch.bf16_support()
needs_bf16 = pytest.mark.skipif(not SUPPORTED, reason=f"no bfloat16 GEMMs here: {WHY}")


def test_support_matches_the_cpu_flags():
    """The self-checked kernel is available exactly where the CPU says it has AVX512-BF16."""
    if "avx512_bf16" in cpu_flags():
        assert SUPPORTED, WHY
    else:
        assert not SUPPORTED and "AVX512-BF16" in WHY


def _grads(layer, x, hx, autocast=False):
    x = x.clone().requires_grad_()
    hx = hx.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        output, h_n = layer(x, hx, lengths=LENGTHS)
    grads = torch.autograd.grad(
        weighted_loss(output.float(), h_n.float()), [x, hx, *layer.parameters()]
    )
    return output, h_n, grads


def _rel(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-12)).item()


@needs_bf16
@variant_configs
def test_bf16_fused_matches_float32_reference(config):
    torch.manual_seed(0)
    reference = grukit.GRU(I, H, num_layers=2, backend="reference", **layer_kwargs(config))
    fused = grukit.GRU(I, H, num_layers=2, precision="bf16", **layer_kwargs(config))
    fused.load_state_dict(reference.state_dict())
    assert fused.backend_choice().bf16
    x, hx = torch.randn(T, B, I), torch.randn(2, B, H) * 0.5
    want = _grads(reference, x, hx)
    got = _grads(fused, x, hx)
    assert got[0].dtype == torch.float32
    out_error = (got[0] - want[0]).abs().max().item()
    assert 1e-5 < out_error < 0.02, out_error
    assert (got[1] - want[1]).abs().max().item() < 0.02
    errors = [_rel(g, w) for g, w in zip(got[2], want[2])]
    assert max(errors) < 0.02, errors
    assert max(errors) > 1e-5  # the bfloat16 path ran


@needs_bf16
def test_autocast_takes_bf16_and_keeps_no_extra_copies():
    """Under autocast the layer takes the bfloat16 GEMMs, returns float32 like
    torch.nn.GRU does, and saves for backward exactly what float32 training saves: no
    float64 tensor, no second float32 copy of an activation."""
    torch.manual_seed(1)
    layer = grukit.GRU(I, H, num_layers=2)
    x, hx = torch.randn(T, B, I), torch.randn(2, B, H)

    def saved(autocast):
        tensors = []

        def pack(t):
            tensors.append(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                assert layer.backend_choice().bf16 == autocast
                output, _ = layer(x.requires_grad_(), hx)
        return output, tensors

    output, with_autocast = saved(True)
    assert output.dtype == torch.float32
    _, without = saved(False)
    assert all(t.dtype != torch.float64 for t in with_autocast)
    assert sum(t.numel() * t.element_size() for t in with_autocast) == sum(
        t.numel() * t.element_size() for t in without
    )


@needs_bf16
def test_autocast_matches_float32_within_bf16_tolerance():
    torch.manual_seed(2)
    layer = grukit.GRU(I, H)
    x, hx = torch.randn(T, B, I), torch.randn(1, B, H)
    want = _grads(layer, x, hx)
    got = _grads(layer, x, hx, autocast=True)
    assert 1e-5 < (got[0] - want[0]).abs().max().item() < 0.02
    assert max(_rel(g, w) for g, w in zip(got[2], want[2])) < 0.02


@needs_bf16
def test_bfloat16_parameters_run_fused_with_float32_state():
    torch.manual_seed(3)
    reference = grukit.GRU(I, H, backend="reference")
    layer = grukit.GRU(I, H, dtype=torch.bfloat16)
    layer.load_state_dict(reference.state_dict())
    choice = layer.backend_choice()
    assert choice.name == "fused" and choice.bf16
    x = torch.randn(T, B, I)
    output, h_n = layer(x.bfloat16(), lengths=LENGTHS)
    assert output.dtype == h_n.dtype == torch.bfloat16
    want, want_h = reference(x, lengths=LENGTHS)
    # The parameters and the input are bfloat16 already: the float32 reference gets the
    # same rounded weights, so the difference is the products' and the output's rounding.
    assert (output.float() - want).abs().max().item() < 0.03
    weighted_loss(output.float(), h_n.float()).backward()
    assert all(p.grad.dtype == torch.bfloat16 for p in layer.parameters())
    # A Stream of a bfloat16 layer steps in PyTorch (the one-step kernel is float32/64).
    stream = layer.eval().stream(B)
    assert stream.backend == "reference"


@needs_bf16
def test_bf16_results_do_not_depend_on_the_thread_count():
    torch.manual_seed(4)
    layer = grukit.GRU(64, 96, precision="bf16")
    x = torch.randn(20, 50, 64)  # large enough for every product to be split
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            layer.zero_grad()
            output, _ = layer(x)
            output.square().sum().backward()
            results.append([output.detach(), *[p.grad.clone() for p in layer.parameters()]])
    finally:
        torch.set_num_threads(previous)
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_precision_auto_says_why_it_keeps_float32(monkeypatch):
    monkeypatch.setattr(dispatch, "bf16_support", lambda: (False, "this CPU has no AVX512-BF16"))
    layer = grukit.GRU(I, H)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        choice = layer.backend_choice()
        assert not choice.bf16
        assert "float32 GEMMs: this CPU has no AVX512-BF16" in choice.reason
        assert "float32 GEMMs" in layer.explain()
    forced = grukit.GRU(I, H, precision="bf16")
    with pytest.raises(RuntimeError, match="precision='bf16' is not available: this CPU has no"):
        forced(torch.randn(T, B, I))
    # Outside autocast, float32 parameters keep float32 GEMMs without a word.
    assert "float32 GEMMs" not in grukit.GRU(I, H).backend_choice().reason


def test_precision_checks():
    with pytest.raises(ValueError, match="precision: got 'half', wanted one of auto, fp32, bf16"):
        grukit.GRU(I, H, precision="half")
    assert "precision='fp32'" in repr(grukit.GRU(I, H, precision="fp32"))
    layer = grukit.GRU(I, H, dtype=torch.float64, precision="bf16")
    with pytest.raises(RuntimeError, match="float64 parameters"):
        layer(torch.randn(T, B, I, dtype=torch.float64))


@needs_bf16
def test_ops_refuse_bf16_products_of_float64():
    gi = torch.randn(T, B, 3 * H, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="bf16 products take float32 operands"):
        ops.recurrence(
            gi,
            torch.zeros(B, H, dtype=torch.float64),
            torch.randn(3 * H, H, dtype=torch.float64),
            None,
            None,
            0,
            True,
            True,
            False,
            bf16=True,
        )
    with pytest.raises(RuntimeError, match="bf16 products take float32 operands"):
        ops.linear(
            torch.randn(3, I, dtype=torch.float64),
            torch.randn(H, I, dtype=torch.float64),
            None,
            True,
        )


@needs_bf16
def test_bf16_ops_pass_opcheck():
    gi = torch.randn(T, B, 3 * H, requires_grad=True)
    w = torch.randn(3 * H, H, requires_grad=True)
    args = (gi, torch.zeros(B, H), w, None, None, 0, True, True, True)
    torch.library.opcheck(
        ops.recurrence, args, {"bf16": True}, test_utils=("test_schema", "test_faketensor")
    )
    x = torch.randn(4, I, requires_grad=True)
    torch.library.opcheck(
        ops.linear,
        (x, torch.randn(H, I, requires_grad=True), None, True),
        test_utils=("test_schema", "test_faketensor"),
    )


@needs_bf16
def test_trainer_precision_bf16_trains_under_autocast(tmp_path, monkeypatch):
    """``--precision bf16`` runs each training step under autocast: the layer sees it (its
    GEMMs go bfloat16) and the run lands close to float32's."""
    from grukit.layers import gru

    seen = []
    original = gru.GRU.backend_choice

    def spy(self, input=None):
        choice = original(self, input)
        seen.append(choice.bf16)
        return choice

    monkeypatch.setattr(gru.GRU, "backend_choice", spy)
    options = dict(
        seq_len=8, train_size=128, test_size=64, hidden=16, epochs=3, log=open("/dev/null", "w")
    )
    fp32 = grukit.train_task("adding", out=tmp_path / "fp32", **options)
    assert not any(seen)
    bf16 = grukit.train_task("adding", out=tmp_path / "bf16", precision="bf16", **options)
    assert any(seen)
    assert abs(bf16["test_mse"] - fp32["test_mse"]) < 0.1 * fp32["test_mse"] + 1e-3


def test_trainer_precision_is_checked():
    from grukit.train.config import TrainConfig

    with pytest.raises(ValueError, match="precision: got 'fp16', wanted one of fp32, bf16"):
        TrainConfig(precision="fp16")


@needs_bf16
def test_torch_compile_under_autocast_has_no_graph_break():
    torch.manual_seed(5)
    layer = grukit.GRU(I, H)
    x = torch.randn(T, B, I)
    compiled = torch.compile(layer, fullgraph=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(compiled(x)[0], layer(x)[0])
