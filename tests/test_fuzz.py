"""A seeded fuzz pass over the public API and the config files, bounded to a few seconds:
every draw ends in a result equal to the reference backend's, or in a ValueError or
TypeError naming the argument: never a signal, another exception, or NaN from finite input.
(Crashes of the C++ ops are covered in a subprocess by tests/kernels/test_op_arguments.py.)"""

from __future__ import annotations

import random
import warnings

import pytest
import torch

import grukit
from grukit.cli import main

GOOD = {
    "input_size": [1, 3, 5],
    "hidden_size": [1, 4, 17],
    "num_layers": [1, 2],
    "bias": [True, False],
    "batch_first": [True, False],
    "dropout": [0.0, 0.3],
    "bidirectional": [True, False],
    "variant": list(grukit.VARIANTS),
    "zoneout": [0.0, 0.2],
    "recurrent_dropout": [0.0, 0.25],
    "dropout_mode": ["step", "locked"],
}
BAD = [0, -1, 2.5, "3", True, None, [1], float("nan"), 1.5, "False"]


def draw_options(rng: random.Random) -> tuple[dict, str | None]:
    """Good values for every option, then (half the time) one replaced by a bad value;
    returns the options and the name of the replaced one (None: all good)."""
    options = {name: rng.choice(values) for name, values in GOOD.items()}
    if options["variant"] == "mingru":
        options["recurrent_dropout"] = 0.0
    if rng.random() < 0.5:
        return options, None
    name = rng.choice(list(GOOD))
    options[name] = rng.choice([bad for bad in BAD if bad not in GOOD[name] or bad is None])
    return options, name


def construct(options: dict, backend: str) -> grukit.GRU:
    options = dict(options)
    size = (options.pop("input_size"), options.pop("hidden_size"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        return grukit.GRU(*size, backend=backend, **options)


def test_random_layers_and_inputs_give_the_reference_result_or_a_named_error():
    rng = random.Random(2026)
    results = {"built": 0, "refused": 0, "bad input refused": 0}
    for _ in range(400):
        options, bad = draw_options(rng)
        try:
            torch.manual_seed(0)
            fused = construct(options, "fused")
        except (ValueError, TypeError) as error:
            assert bad is not None, (options, error)
            # the argument by name (or the variant that rules a value out)
            assert bad in str(error) or "variant" in str(error), (options, bad, error)
            results["refused"] += 1
            continue
        torch.manual_seed(0)
        reference = construct(options, "reference")
        reference.load_state_dict(fused.state_dict())
        results["built"] += 1
        steps, batch = rng.randint(1, 6), rng.randint(1, 4)
        shape = [steps, batch, fused.input_size]
        if fused.batch_first:
            shape[0], shape[1] = batch, steps
        x = torch.randn(shape)
        lengths = [rng.randint(1, steps) for _ in range(batch)]
        lengths[0] = steps
        corrupt = rng.random() < 0.3
        if corrupt:  # one bad thing about the input
            choice = rng.randrange(4)
            if choice == 0:
                x = x[..., :-1] if x.shape[-1] > 1 else torch.randn(*x.shape[:-1], 2)
            elif choice == 1:
                x = x.double()
            elif choice == 2:
                lengths[-1] = steps + 1
            else:
                lengths = lengths[:-1] or [0, 0]
        fused.eval(), reference.eval()
        try:
            got = fused(x, lengths=lengths)
        except (ValueError, TypeError) as error:
            assert corrupt, (options, error)
            assert str(error).split(":")[0] in ("input", "lengths"), error
            results["bad input refused"] += 1
            continue
        assert not corrupt, (options, "accepted a bad input")
        want = reference(x, lengths=lengths)
        for a, b in zip(got, want):
            assert torch.isfinite(a).all(), options
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert min(results.values()) > 10, results  # every outcome was drawn


@pytest.mark.parametrize("seed", range(3))
def test_random_bad_config_values_are_one_line_naming_the_key(tmp_path, capsys, seed):
    rng = random.Random(seed)
    keys = ["hidden", "layers", "epochs", "lr", "dropout", "batch_size", "bidirectional"]
    # (a table at the top level is a section: [train] or { ... } alike; inside one it is not)
    values = ['"64"', "2.5", "true", "[1, 2]", '"fast"', "-3", "{ a = 1 }", "nan"]
    for _ in range(6):
        key, value = rng.choice(keys), rng.choice(values)
        config = tmp_path / "fuzz.toml"
        config.write_text(f'task = "adding"\n[train]\n{key} = {value}\n')
        code = main(["train", "--config", str(config), "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert code == 2, (key, value, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (key, value, err)
        assert key in err or key.replace("_", "-") in err, (key, value, err)
