"""Bad input: each gets a ValueError or TypeError naming the argument, what it got and what
it wanted."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import grukit

T, B, I, H = 5, 3, 4, 6


@pytest.fixture
def layer():
    return grukit.GRU(I, H, 2, bidirectional=True)


def test_wrong_feature_size(layer):
    with pytest.raises(
        ValueError,
        match=r"input: got shape \(5, 3, 7\), wanted \(T, B, I=4\) or unbatched \(T, I=4\)",
    ):
        layer(torch.randn(T, B, 7))


def test_wrong_feature_size_batch_first():
    layer = grukit.GRU(I, H, batch_first=True)
    with pytest.raises(ValueError, match=r"input: got shape \(3, 5, 2\), wanted \(B, T, I=4\)"):
        layer(torch.randn(B, T, 2))


@pytest.mark.parametrize("shape", [(I,), (2, T, B, I), (0, B, I), (T, 0, I)])
def test_wrong_rank_or_empty(layer, shape):
    with pytest.raises(ValueError, match=r"input: got shape .*, wanted"):
        layer(torch.randn(shape))


def test_input_not_a_tensor(layer):
    with pytest.raises(TypeError, match=r"input: got list, wanted a torch.Tensor"):
        layer([[1.0] * I])


def test_input_dtype_mismatch(layer):
    with pytest.raises(TypeError, match=r"input: got dtype torch.float64, wanted torch.float32"):
        layer(torch.randn(T, B, I, dtype=torch.float64))


def test_input_integer_dtype(layer):
    with pytest.raises(TypeError, match=r"input: got dtype torch.int64, wanted torch.float32"):
        layer(torch.ones(T, B, I, dtype=torch.long))


def test_input_device_mismatch(layer):
    with pytest.raises(ValueError, match=r"input: got a tensor on meta, wanted one on cpu"):
        layer(torch.randn(T, B, I, device="meta"))


@pytest.mark.parametrize("shape", [(4, B + 1, H), (2, B, H), (4, B, H + 1), (B, H)])
def test_hx_wrong_shape(layer, shape):
    with pytest.raises(
        ValueError, match=r"hx: got shape .*, wanted \(num_layers\*num_directions=4, B=3, H=6\)"
    ):
        layer(torch.randn(T, B, I), torch.randn(shape))


def test_hx_wrong_shape_unbatched(layer):
    with pytest.raises(
        ValueError, match=r"hx: got shape \(4, 1, 6\), wanted \(num_layers\*num_directions=4, H=6\)"
    ):
        layer(torch.randn(T, I), torch.randn(4, 1, H))


def test_hx_dtype_mismatch(layer):
    with pytest.raises(TypeError, match=r"hx: got dtype torch.float64, wanted torch.float32"):
        layer(torch.randn(T, B, I), torch.randn(4, B, H, dtype=torch.float64))


def test_hx_device_mismatch(layer):
    with pytest.raises(ValueError, match=r"hx: got a tensor on meta, wanted one on cpu"):
        layer(torch.randn(T, B, I), torch.randn(4, B, H, device="meta"))


@pytest.mark.parametrize(
    "lengths, message",
    [
        ([5, 0, 2], r"lengths: got 0 at index 1, wanted every length in 1..5"),
        ([5, -2, 2], r"lengths: got -2 at index 1, wanted every length in 1..5"),
        ([5, 6, 2], r"lengths: got 6 at index 1, wanted every length in 1..5"),
        ([5, 2], r"lengths: got shape \(2,\), wanted \(3,\)"),
        ([[5, 2, 1]], r"lengths: got shape \(1, 3\), wanted \(3,\)"),
        (
            torch.tensor([5.0, float("nan"), 2.0]),
            r"lengths: got non-finite values \[5.0, nan, 2.0\], wanted whole numbers",
        ),
        (torch.tensor([5.0, float("inf"), 2.0]), r"lengths: got non-finite values"),
        (torch.tensor([5.0, 2.5, 2.0]), r"lengths: got fractional values"),
    ],
)
def test_bad_lengths(layer, lengths, message):
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(T, B, I), lengths=lengths)


@pytest.mark.parametrize(
    "lengths, message",
    [
        (
            torch.tensor([True, True, False]),
            r"lengths: got dtype torch.bool, wanted an integer dtype",
        ),
        ("5,3,2", r"lengths: got str, wanted a 1-D int tensor"),
        ([5, "a", 2], r"lengths: got \[5, 'a', 2\], wanted a 1-D sequence of ints"),
    ],
)
def test_bad_lengths_type(layer, lengths, message):
    with pytest.raises(TypeError, match=message):
        layer(torch.randn(T, B, I), lengths=lengths)


def test_float_lengths_with_whole_values_are_accepted(layer):
    x = torch.randn(T, B, I)
    torch.testing.assert_close(
        layer(x, lengths=torch.tensor([5.0, 1.0, 2.0]))[0], layer(x, lengths=[5, 1, 2])[0]
    )


def test_lengths_with_packed_sequence(layer):
    packed = pack_padded_sequence(torch.randn(T, B, I), [5, 3, 2])
    with pytest.raises(
        ValueError, match=r"lengths: got a value together with a PackedSequence.*wanted None"
    ):
        layer(packed, lengths=[5, 3, 2])


def test_packed_sequence_wrong_features(layer):
    packed = pack_padded_sequence(torch.randn(T, B, I + 1), [5, 3, 2])
    with pytest.raises(
        ValueError, match=r"input: got shape \(10, 5\), wanted packed data \(N, I=4\)"
    ):
        layer(packed)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((0, H), {}, ValueError, r"input_size: got 0, wanted an int >= 1"),
        ((I, -3), {}, ValueError, r"hidden_size: got -3, wanted an int >= 1"),
        ((I, 2.5), {}, TypeError, r"hidden_size: got 2.5 \(float\), wanted an int"),
        ((I, H, 0), {}, ValueError, r"num_layers: got 0, wanted an int >= 1"),
        ((I, H, 2), {"dropout": 1.5}, ValueError, r"dropout: got 1.5, wanted a float in \[0, 1\]"),
        (
            (I, H),
            {"backend": "cuda-magic"},
            ValueError,
            r"backend: got 'cuda-magic', wanted one of auto, reference",
        ),
    ],
)
def test_bad_constructor_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        grukit.GRU(*args, **kwargs)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout=0.3 has no effect with num_layers=1"):
        grukit.GRU(I, H, dropout=0.3)


def test_cell_bad_input():
    cell = grukit.GRUCell(I, H)
    with pytest.raises(
        ValueError, match=r"input: got shape \(3, 5\), wanted \(B, I=4\) or unbatched \(I=4,\)"
    ):
        cell(torch.randn(B, I + 1))
    with pytest.raises(ValueError, match=r"hx: got shape \(2, 6\), wanted \(B=3, H=6\)"):
        cell(torch.randn(B, I), torch.randn(2, H))
    with pytest.raises(ValueError, match=r"hx: got shape \(1, 6\), wanted \(H=6,\)"):
        cell(torch.randn(I), torch.randn(1, H))
    with pytest.raises(TypeError, match=r"hx: got dtype torch.float64, wanted torch.float32"):
        cell(torch.randn(B, I), torch.randn(B, H, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"variant: got 'lstm'"):
        grukit.GRUCell(I, H, variant="lstm")


def test_a_layer_too_large_for_memory_is_refused_before_allocating():
    """hidden_size=1000000 (a typo) asked the allocator for 12 TB: a traceback, or the OOM
    killer. It is refused with what it would need."""
    with pytest.raises(
        ValueError,
        match=r"hidden_size=1000000: 3,000,270,000,000 parameters would need 12\.0 TB for the "
        r"weights alone .* more than this machine's [\d.]+ [GT]B of memory",
    ):
        grukit.GRU(88, 1_000_000)


@pytest.mark.parametrize("make", ["GRU", "GRUCell", "moved"])
def test_complex_dtypes_are_refused(make):
    """complex64 parameters were accepted and ran."""
    if make == "moved":
        layer = grukit.GRU(I, H).to(torch.complex64)
        with pytest.raises(TypeError, match=r"input: got dtype torch.complex64 .* floating-point"):
            layer(torch.randn(T, B, I, dtype=torch.complex64))
        return
    with pytest.raises(TypeError, match=r"dtype: got torch.complex64, wanted a floating-point"):
        getattr(grukit, make)(I, H, dtype=torch.complex64)


def test_infinite_input_gives_the_same_result_on_both_backends():
    """The fused float32 sigmoid never reached 0: with z's pre-activation at -inf, mingru's
    fused backend computed 6e-39 * inf = inf where the reference gives 0 * inf = NaN."""
    results = []
    for backend in ("fused", "reference"):
        layer = grukit.GRU(1, 2, variant="mingru", backend=backend)
        with torch.no_grad():
            layer.weight_ih_l0.copy_(torch.tensor([[-1.0], [-1.0], [1.0], [2.0]]))  # z, then n
            layer.bias_ih_l0.zero_()
        x = torch.tensor([[[float("inf")]], [[1.0]], [[-float("inf")]]])
        results.append(layer(x)[0].detach())
    torch.testing.assert_close(results[0], results[1], equal_nan=True)
    assert results[1].isnan().any()


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: grukit.GRU(I, H, dtype=torch.int32), TypeError, "dtype: got torch.int32"),
        (
            lambda: grukit.GRU(I, H, init="chrono", t_max=float("inf")),
            ValueError,
            "t_max: got inf, wanted a finite number > 2",
        ),
        (
            lambda: grukit.GRU(I, H)(
                torch.randn(T, 2, I), lengths=torch.tensor([3, 2], device="meta")
            ),
            ValueError,
            "lengths: got a tensor on the meta device",
        ),
        (
            lambda: grukit.GRU(I, H)(torch.randn(T, 2, I), lengths=[3, None]),
            TypeError,
            r"lengths: got \[3, None\], wanted a 1-D sequence of ints",
        ),
        *[
            (
                lambda size=size: grukit.GRU(I, H).stream(batch_size=size),
                TypeError,
                rf"batch_size: got {size!r} \({type(size).__name__}\), wanted an int >= 1",
            )
            for size in (-1, 2.5, "2", True)
        ],
        (
            lambda: grukit.GRU(I, H).stream().chunk(torch.randn(0, 1, I)),
            ValueError,
            r"x: got \(0, 1, 4\), wanted \(T>=1, 1, 4\): at least one step",
        ),
    ],
)
def test_api_messages_name_the_argument(call, error, message):
    """Each was a torch-internal message or traceback (or accepted: batch_size=True)."""
    with pytest.raises(error, match=message):
        call()
