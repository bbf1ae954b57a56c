"""How each next token is chosen (``grukit.inference.sampling``): the sampling rules on
explicit logits, each kept set computed here independently; seeds; greedy decoding; bad
options and logits refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from grukit.inference.sampling import (
    GREEDY_TEMPERATURE,
    GenerationConfig,
    generation_config,
    sample_token,
    sampling_probabilities,
)

# --------------------------------------------------------------- the sampling rules


def allowed_set(logits: np.ndarray, temperature: float, top_k, top_p) -> set[int]:
    """The tokens the module docstring's rules keep, computed with NumPy."""
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))
    if top_k is not None:
        order = order[:top_k]
    scaled = np.array([logits[i] for i in order], np.float64) / temperature
    probabilities = np.exp(scaled - scaled.max())
    probabilities /= probabilities.sum()
    if top_p is None:
        return set(order)
    kept, mass = [], 0.0
    for index, probability in zip(order, probabilities):
        kept.append(index)
        mass += probability
        if mass >= top_p:
            break
    return set(kept)


@pytest.mark.parametrize(
    "size, scale, temperature, top_k, top_p",
    [
        (40, 2.0, 1.0, 5, None),
        (40, 2.0, 1.0, None, 0.5),
        (40, 2.0, 0.7, None, 0.9),
        (40, 2.0, 1.3, 8, 0.6),
        (40, 2.0, 1.0, 1, None),
        (5000, 0.1, 1.0, None, 0.5),  # a flat nucleus of ~2,500 tokens: found in rounds
        (5000, 3.0, 0.8, 300, 0.9),
    ],
)
def test_top_k_and_top_p_never_sample_outside_their_set(size, scale, temperature, top_k, top_p):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(size) * scale).astype(np.float32)
    allowed = allowed_set(logits.astype(np.float64), temperature, top_k, top_p)
    probabilities = sampling_probabilities(
        logits, temperature=temperature, top_k=top_k, top_p=top_p
    )
    assert set(np.flatnonzero(probabilities).tolist()) == allowed
    assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-12)
    rows = np.broadcast_to(logits, (3000 if size < 100 else 200, size))
    draws = set(
        sample_token(rows, rng=rng, temperature=temperature, top_k=top_k, top_p=top_p).tolist()
    )
    assert draws <= allowed and (size > 100 or draws == allowed)  # all seen, if few
    # within the set: p_i proportional to exp(z_i / T)
    kept = sorted(allowed)
    expected = torch.softmax(torch.from_numpy(logits).double()[kept] / temperature, -1)
    np.testing.assert_allclose(probabilities[kept], expected.numpy(), rtol=1e-9, atol=0)
    # a torch tensor of logits is read the same way
    assert np.array_equal(
        sampling_probabilities(
            torch.from_numpy(logits), temperature=temperature, top_k=top_k, top_p=top_p
        ),
        probabilities,
    )


def test_draws_follow_the_probabilities():
    logits = np.array([0.0, 1.0, -1.0, 2.0, -40.0])
    for top_p in (None, 0.8):
        probabilities = sampling_probabilities(logits, temperature=0.9, top_p=top_p)
        draws = sample_token(
            np.broadcast_to(logits, (20000, 5)), rng=1, temperature=0.9, top_p=top_p
        )
        frequencies = np.bincount(draws, minlength=5) / len(draws)
        np.testing.assert_allclose(frequencies, probabilities, rtol=0, atol=0.015)  # 4 sd
        assert frequencies[4] == 0 or top_p is None


def test_equal_logits_at_the_boundary_keep_the_lower_ids():
    logits = np.array([1.0, 2.0, 2.0, 2.0, 0.0])
    assert np.flatnonzero(sampling_probabilities(logits, top_k=2)).tolist() == [1, 2]
    # p: each of the three holds ~0.3; two of them reach 0.5
    assert np.flatnonzero(sampling_probabilities(logits, top_p=0.5)).tolist() == [1, 2]


def test_temperature_is_a_softmax_of_scaled_logits_and_top_p_one_keeps_all():
    logits = np.array([2.0, 1.0, -3.0, 0.5, -30.0])
    for temperature in (0.25, 1.0, 4.0):
        expected = torch.softmax(torch.from_numpy(logits) / temperature, -1).numpy()
        for top_p in (None, 1.0):
            got = sampling_probabilities(logits, temperature=temperature, top_p=top_p)
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # the smallest set reaching p: 0.5 is reached by the top token alone at T=1 (p=0.61)
    assert np.flatnonzero(sampling_probabilities(logits, temperature=1.0, top_p=0.5)).tolist() == [
        0
    ]
    assert np.flatnonzero(sampling_probabilities(logits, temperature=1.0, top_p=1e-9)).tolist() == [
        0
    ]


def test_tiny_temperature_is_the_argmax_and_draws_nothing():
    logits = np.array([[0.1, 3.0, 3.0 - 1e-6, -1.0], [5.0, 5.0, 1.0, 0.0]], np.float32)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    for temperature in (1e-6, GREEDY_TEMPERATURE):
        assert sample_token(logits, rng=rng, temperature=temperature).tolist() == [1, 0]
        assert sampling_probabilities(
            logits, temperature=temperature, top_k=3, top_p=0.2
        ).tolist() == [
            [0, 1, 0, 0],
            [1, 0, 0, 0],  # equal maxima: the lower id
        ]
    assert rng.bit_generator.state == before


def test_the_same_seed_gives_the_same_draws_whatever_the_global_generators():
    logits = np.random.default_rng(0).standard_normal((3000, 10))
    first = sample_token(logits, rng=3)
    torch.manual_seed(99)
    np.random.seed(99)
    np.random.rand(100)
    assert np.array_equal(sample_token(logits, rng=np.random.default_rng(3)), first)
    assert not np.array_equal(sample_token(logits, rng=4), first)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"temperature": 0}, "temperature: got 0"),
        ({"temperature": -1.0}, "temperature: got -1.0"),
        ({"temperature": math.inf}, "temperature: got inf"),
        ({"temperature": math.nan}, "temperature: got nan"),
        ({"top_k": 0}, "top_k: got 0"),
        ({"top_k": 2.5}, "top_k: got 2.5"),
        ({"top_p": 0.0}, r"top_p: got 0.0, wanted a number in \(0, 1\]"),
        ({"top_p": 1.5}, "top_p: got 1.5"),
        ({"top_p": math.nan}, "top_p: got nan"),
    ],
)
def test_bad_sampling_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        sampling_probabilities(np.zeros(4), **options)


def test_non_finite_or_non_float_logits_are_refused():
    with pytest.raises(ValueError, match="logits: got NaN"):
        sample_token(np.array([0.0, math.nan]))
    with pytest.raises(ValueError, match="logits: got NaN"):
        sample_token(torch.tensor([0.0, math.inf]))
    for bad in (np.array([1, 2]), np.float64(1.0), "ab", np.zeros((2, 0))):
        with pytest.raises(ValueError, match="logits: got"):
            sample_token(bad)


def test_a_generation_config_is_checked_and_options_override_it():
    config = GenerationConfig(tokens=5, temperature=0.5, seed=3)
    assert generation_config(config, top_k=2) == GenerationConfig(
        tokens=5, temperature=0.5, top_k=2, seed=3
    )
    assert config.updated(top_p=0.9, seed=None).seed == 3  # None leaves a field as it is
    assert GenerationConfig(temperature=GREEDY_TEMPERATURE).greedy
    assert not GenerationConfig(temperature=2 * GREEDY_TEMPERATURE).greedy
    for options, message in [
        ({"tokens": -1}, "tokens: got -1"),
        ({"seed": -2}, "seed: got -2"),
        ({"num_beams": 0}, "num_beams: got 0"),
        ({"length_penalty": math.inf}, "length_penalty: got inf"),
        ({"top_k": 0}, "top_k: got 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            GenerationConfig(**options)
    with pytest.raises(ValueError, match="generation options: unknown beam_width"):
        generation_config(config, beam_width=4)
    # the config's seed draws what the same seed given as the generator draws
    logits = np.random.default_rng(0).standard_normal((50, 7))
    assert np.array_equal(sample_token(logits, config), sample_token(logits, config, rng=3))
