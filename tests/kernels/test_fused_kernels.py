"""The fused CPU backend against the reference, and as a custom operator: opcheck,
torch.compile without graph breaks, thread-count independence, inference that keeps
nothing, and the fallback when the extension cannot be built."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import grukit
from grukit.kernels.cpu import fused, ops
from helpers import VARIANT_CONFIGS, config_id, layer_kwargs, variant_configs, weighted_loss

# Odd H exercises the vector loops' remainders; lengths include 1 and T.
T, B, I, H = 9, 5, 6, 37
LENGTHS = [T, 1, 4, T, 7]


def layer_pair(config, dtype, **kwargs):
    reference = grukit.GRU(I, H, dtype=dtype, backend="reference", **layer_kwargs(config), **kwargs)
    fused_layer = grukit.GRU(I, H, dtype=dtype, backend="fused", **layer_kwargs(config), **kwargs)
    fused_layer.load_state_dict(reference.state_dict())
    return reference, fused_layer


def run_with_grads(layer, x, hx):
    x = x.clone().requires_grad_()
    hx = hx.clone().requires_grad_()
    output, h_n = layer(x, hx, lengths=LENGTHS)
    grads = torch.autograd.grad(weighted_loss(output, h_n), [x, hx, *layer.parameters()])
    return output, h_n, grads


@variant_configs
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_fused_equals_reference(config, dtype):
    """2 layers, bidirectional, hx, mixed lengths: outputs, h_n and every gradient."""
    reference, fused_layer = layer_pair(config, dtype, num_layers=2, bidirectional=True)
    x = torch.randn(T, B, I, dtype=dtype)
    hx = torch.randn(4, B, H, dtype=dtype)
    expected = run_with_grads(reference.train(), x, hx)
    got = run_with_grads(fused_layer.train(), x, hx)
    tight = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got[0], expected[0], rtol=tight, atol=tight)
    torch.testing.assert_close(got[1], expected[1], rtol=tight, atol=tight)
    names = ["input", "hx"] + [name for name, _ in reference.named_parameters()]
    for name, got_grad, want_grad in zip(names, got[2], expected[2]):
        # Weight gradients sum over every step and row: compare relative to their size.
        scale = float(want_grad.abs().max()) or 1.0
        torch.testing.assert_close(
            got_grad / scale,
            want_grad / scale,
            rtol=0,
            atol=tight * 10,
            msg=lambda m, n=name: f"{n}: {m}",
        )


def test_batch_one_path_equals_reference():
    """Batch 1 takes the matrix-vector path instead of BLAS."""
    for config in VARIANT_CONFIGS:
        reference, fused_layer = layer_pair(config, torch.float64)
        x = torch.randn(T, 1, I, dtype=torch.float64)
        hx = torch.randn(1, 1, H, dtype=torch.float64)
        want = reference(x, hx)[0]
        torch.testing.assert_close(fused_layer(x, hx)[0], want, rtol=1e-12, atol=1e-12)


def op_arguments(config, save=True):
    """Canonical arguments of grukit::recurrence for a variant, leaves requiring grad."""
    layer = grukit.GRU(3, 4, dtype=torch.float64, **layer_kwargs(config))
    params = fused.fold_gate_biases(layer.spec, layer.cell_params(0))
    gi = layer.spec.project_input(torch.randn(5, 3, 3, dtype=torch.float64), params, None, False)
    spec = layer.spec
    kind, reset_after, read_state = fused.kernel_flags(spec)
    if kind == fused.KIND_GATED:
        gi = fused.canonical_gated_input(spec, gi, params, 4)
    bias_hn = fused.candidate_bias(spec, params, 4)
    bias_hn = None if bias_hn is None else bias_hn.detach().clone().requires_grad_()
    weight = params.get("weight_hh")
    weight = None if weight is None else weight.detach().clone().requires_grad_()
    return (
        gi.detach().clone().requires_grad_(),
        torch.randn(3, 4, dtype=torch.float64, requires_grad=True),
        weight,
        bias_hn,
        torch.tensor([5, 2, 1]),
        kind,
        reset_after,
        read_state,
        save,
    )


@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
def test_opcheck(config):
    """Schema, fake tensors, autograd registration and AOT dispatch of the custom op."""
    torch.library.opcheck(ops.recurrence, op_arguments(config))


@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
def test_gradcheck_through_op(config):
    args = op_arguments(config)
    tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]

    def run(*leaves):
        full = list(args)
        for i, leaf in zip(tensors, leaves):
            full[i] = leaf
        output, h_n = ops.recurrence(*full)[:2]
        return output, h_n

    assert torch.autograd.gradcheck(run, [args[i] for i in tensors], eps=1e-6, atol=1e-7)


def regularised_arguments(config):
    """op_arguments with a recurrent-dropout mask, zoneout keeps and, for the gated kinds
    and mgu, a layer-norm gain (a leaf)."""
    args = op_arguments(config)
    gi, kind = args[0], args[5]
    steps, batch = gi.shape[:2]
    mask = torch.bernoulli(torch.full((batch, 4), 0.7, dtype=torch.float64)) / 0.7
    keeps = torch.bernoulli(torch.full((steps, batch, 4), 0.2, dtype=torch.float64))
    gain = None
    if kind in (fused.KIND_GATED, fused.KIND_MGU):
        rows = args[2].shape[0]
        gain = torch.empty(rows, dtype=torch.float64).uniform_(0.5, 1.5).requires_grad_()
    if kind == fused.KIND_MINGRU:
        mask = None  # no recurrent matrix
    return (*args, mask, keeps, 0.0, gain)


@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
def test_opcheck_and_gradcheck_with_regularisers(config):
    args = regularised_arguments(config)
    torch.library.opcheck(ops.recurrence, args)
    leaves = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]

    def run(*values):
        full = list(args)
        for i, value in zip(leaves, values):
            full[i] = value
        return tuple(ops.recurrence(*full)[:2])

    assert torch.autograd.gradcheck(run, [args[i] for i in leaves], eps=1e-6, atol=1e-7)


def test_torch_compile_has_no_graph_break():
    layer = grukit.GRU(I, H, 2, bidirectional=True, backend="fused")
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    x = torch.randn(T, B, I, requires_grad=True)
    output, h_n = compiled(x)
    expected_output, expected_h_n = layer(x)
    torch.testing.assert_close(output, expected_output)
    (grad,) = torch.autograd.grad(weighted_loss(output, h_n), x)
    (expected_grad,) = torch.autograd.grad(weighted_loss(expected_output, expected_h_n), x)
    torch.testing.assert_close(grad, expected_grad)


def test_one_and_two_threads_give_identical_results():
    layer = grukit.GRU(64, 256, bidirectional=True, backend="fused")
    x = torch.randn(40, 48, 64)
    lengths = torch.randint(1, 41, (48,))
    results = []
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(run_with_grads_lengths(layer, x, lengths))
    finally:
        torch.set_num_threads(previous)
    for one, two in zip(*results):
        assert torch.equal(one, two)


# Batch 1 with T >= 32 and H >= 32: the forward runs on a team of threads that each update
# their own block of hidden units (team.h). H=144 splits unevenly: units [0, 64), [64, 144).
TEAM_T, TEAM_H = 40, 144
# The team's caller waits 10 ms for its threads to join (team.h), then runs with whoever
# joined. On a busy machine (other test workers, other jobs) a pool thread can be later than
# that, and the call runs alone: right results, but no team to test. These tests wait up to
# 30 s instead, so a team that should form does; a thread that never comes still fails them.
DEFAULT_JOIN_WAIT_US, TEST_JOIN_WAIT_US = 10_000, 30_000_000


def team_results(config, dtype, threads, **options):
    """Output, h_n and every gradient of a fused layer at batch 1, run with ``threads``;
    masks and weights from fixed seeds; and how many calls ran on a team."""
    torch.manual_seed(0)
    layer = grukit.GRU(I, TEAM_H, dtype=dtype, backend="fused", **layer_kwargs(config), **options)
    x = torch.randn(TEAM_T, 1, I, dtype=dtype, requires_grad=True)
    hx = torch.randn(1, 1, TEAM_H, dtype=dtype, requires_grad=True)
    previous = torch.get_num_threads()
    extension = ops.load_extension()
    teams = extension.teams_formed()
    wait = extension.set_team_join_wait_us(TEST_JOIN_WAIT_US)
    assert wait == DEFAULT_JOIN_WAIT_US  # what every other call (and the user) gets
    try:
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        output, h_n = layer(x, hx)
    finally:
        torch.set_num_threads(previous)
        extension.set_team_join_wait_us(wait)
    teams = extension.teams_formed() - teams
    grads = torch.autograd.grad(weighted_loss(output, h_n), [x, hx, *layer.parameters()])
    return [output, h_n, *grads], teams


@variant_configs
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_batch_one_team_equals_one_thread_and_the_reference(config, dtype):
    """Two threads (a team) and three (more threads than this machine's cores: the barrier
    must yield) give exactly one thread's results; and the reference loop's."""
    one, teams = team_results(config, dtype, 1)
    assert teams == 0
    for threads in (2, 3):
        got, teams = team_results(config, dtype, threads)
        assert teams == (0 if config[0] == "mingru" else 1)  # mingru: no product to share
        for a, b in zip(got, one):
            assert torch.equal(a, b)
    reference = grukit.GRU(I, TEAM_H, dtype=dtype, backend="reference", **layer_kwargs(config))
    torch.manual_seed(0)
    fused_layer = grukit.GRU(I, TEAM_H, dtype=dtype, backend="fused", **layer_kwargs(config))
    reference.load_state_dict(fused_layer.state_dict())
    x = torch.randn(TEAM_T, 1, I, dtype=dtype)
    hx = torch.randn(1, 1, TEAM_H, dtype=dtype)
    tight = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(one[0], reference(x, hx)[0], rtol=tight, atol=tight)


@pytest.mark.parametrize(
    "config",
    [("gru", True, None), ("gru", False, None), ("mgu", None, None), ("ligru", None, None)],
    ids=config_id,
)
def test_batch_one_team_with_masks_equals_one_thread(config):
    """Recurrent dropout (each thread reads m*h from its own buffer) and zoneout (per unit)
    inside the team."""
    options = dict(recurrent_dropout=0.3, zoneout=0.25)
    one, _ = team_results(config, torch.float32, 1, **options)
    got, teams = team_results(config, torch.float32, 2, **options)
    assert teams == 1
    for a, b in zip(got, one):
        assert torch.equal(a, b)


def test_a_team_whose_threads_do_not_all_start_runs_alone():
    """With fewer pool threads than asked for (OMP_THREAD_LIMIT=1), one thread is handed
    every index: the team counted the threads it stood for as members and waited for
    them at the first barrier forever."""
    script = textwrap.dedent(
        """
        import torch, grukit
        from grukit.kernels.cpu.build import load_extension
        torch.set_num_threads(2)
        layer = grukit.GRU(8, 144, backend="fused")
        x = torch.randn(40, 1, 8)
        with torch.no_grad():
            two = layer(x)[0]
        torch.set_num_threads(1)
        with torch.no_grad():
            one = layer(x)[0]
        print(torch.equal(one, two), load_extension().teams_formed())
        """
    )
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "0"]


def test_layer_norm_of_the_recurrent_projection_runs_without_a_team():
    """Layer norm needs every unit of a gate block at once: one thread does it all."""
    config = ("gru", True, "layer")
    one, _ = team_results(config, torch.float32, 1)
    got, teams = team_results(config, torch.float32, 2)
    assert teams == 0
    for a, b in zip(got, one):
        assert torch.equal(a, b)


def run_with_grads_lengths(layer, x, lengths):
    x = x.clone().requires_grad_()
    output, h_n = layer(x, lengths=lengths)
    grads = torch.autograd.grad(weighted_loss(output, h_n), [x, *layer.parameters()])
    return (output, h_n, *grads)


def test_inference_saves_nothing(monkeypatch):
    calls = []
    original = fused.recurrence

    def spy(*args):
        result = original(*args)
        calls.append((args[8], result[2].numel(), result[3].numel()))  # args[8]: save
        return result

    monkeypatch.setattr(fused, "recurrence", spy)
    layer = grukit.GRU(I, H, backend="fused")
    with torch.no_grad():
        layer(torch.randn(T, B, I))
    layer(torch.randn(T, B, I))
    assert calls[0] == (False, 0, 0), "no_grad must not keep states or gates"
    assert calls[1][0] is True and calls[1][1] == (T + 1) * B * H


def test_fallback_when_the_extension_cannot_be_built(tmp_path):
    """No compiler: backend='auto' warns once and runs the reference; 'fused' raises why."""
    script = textwrap.dedent(
        """
        import warnings, torch, grukit
        layer = grukit.GRU(3, 4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layer(torch.randn(2, 1, 3)); layer(torch.randn(2, 1, 3))
        messages = [str(w.message) for w in caught if "falls back" in str(w.message)]
        assert len(messages) == 1, messages
        assert layer.backend_choice().name == "reference"
        try:
            grukit.GRU(3, 4, backend="fused")(torch.randn(2, 1, 3))
        except RuntimeError as error:
            assert "backend='fused' is not available" in str(error), error
            print("OK:", error)
        else:
            raise AssertionError("backend='fused' ran without an extension")
        """
    )
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"), GRUKIT_CACHE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "OK: backend='fused' is not available: the fused CPU extension could not be built"
        in result.stdout
    )


def test_fused_refuses_unsupported_dtype():
    layer = grukit.GRU(I, H, backend="fused", dtype=torch.float16)
    with pytest.raises(
        ValueError,
        match=r"backend: got 'fused' for torch.float16 on cpu, wanted float32, float64 or bfloat16",
    ):
        layer(torch.randn(T, B, I, dtype=torch.float16))
    auto = grukit.GRU(I, H, dtype=torch.float16)
    assert auto.backend_choice().name == "reference"
    # and computes the GRU in half precision: float32's result to float16's rounding.
    single = grukit.GRU(I, H, backend="reference")
    single.load_state_dict({k: v.float() for k, v in auto.state_dict().items()})
    x = torch.randn(T, B, I)
    got = auto(x.half())[0]
    assert got.dtype == torch.float16
    torch.testing.assert_close(got.float(), single(x)[0], rtol=0, atol=1e-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_nan_propagates_like_the_reference(dtype):
    """A NaN in the weights must not be hidden by a kernel (relu of NaN is NaN)."""
    results = []
    for backend in ("reference", "fused"):
        torch.manual_seed(0)
        layer = grukit.GRU(3, 4, variant="ligru", norm="layer", backend=backend, dtype=dtype)
        with torch.no_grad():
            layer.weight_hh_l0[5, 2] = float("nan")
        results.append(layer(torch.randn(3, 1, 3, dtype=dtype))[1])
    assert torch.isnan(results[0]).all() and torch.isnan(results[1]).all()


def test_op_rejects_bad_arguments():
    """The op is public: bad lengths or shapes raise instead of reading out of bounds."""
    gi, h0 = torch.randn(5, 2, 12), torch.zeros(2, 4)
    weight = torch.randn(12, 4)
    with pytest.raises(RuntimeError, match="lengths must be in 0..T=5, got 9"):
        ops.recurrence(gi, h0, weight, None, torch.tensor([9, 1]), 0, True, True, False)
    with pytest.raises(RuntimeError, match=r"lengths must be \(B=2\)"):
        ops.recurrence(gi, h0, weight, None, torch.tensor([5]), 0, True, True, False)
    with pytest.raises(RuntimeError, match=r"weight_hh must be \(12, 4\)"):
        ops.recurrence(gi, h0, torch.randn(8, 4), None, None, 0, True, True, False)
    with pytest.raises(RuntimeError, match=r"gi must be \(T, B, 3\*H\)"):
        ops.recurrence(torch.randn(5, 2, 10), h0, weight, None, None, 0, True, True, False)


def test_bias_gradients_over_many_rows_are_as_accurate_as_the_reference():
    """Bias gradients sum T x B rows; summed one after another in float32 they were 10x
    less accurate than the reference's at 512,000 rows. Now pairwise: no worse than it."""
    steps, batch, inputs, hidden = 1000, 512, 2, 4
    torch.manual_seed(0)
    x64 = torch.randn(steps, batch, inputs, dtype=torch.float64)
    weights = grukit.GRU(inputs, hidden, dtype=torch.float64).state_dict()
    grads = {}
    for backend in ("fused", "reference"):
        for dtype in (torch.float32, torch.float64):
            layer = grukit.GRU(inputs, hidden, backend=backend, dtype=dtype)
            layer.load_state_dict(weights)
            output, h_n = layer(x64.to(dtype))
            # a loss whose gradient does not cancel: every row pushes the same way
            (output.sum() + h_n.sum()).backward()
            grads[backend, dtype] = {
                name: p.grad.double() for name, p in layer.named_parameters() if "bias" in name
            }
    exact = grads["reference", torch.float64]
    for name, truth in exact.items():
        scale = float(truth.abs().max())
        fused = float((grads["fused", torch.float32][name] - truth).abs().max()) / scale
        reference = float((grads["reference", torch.float32][name] - truth).abs().max()) / scale
        assert fused <= max(2 * reference, 1e-6), (name, fused, reference)
