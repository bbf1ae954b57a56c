"""The gradient study's options: one dataclass, whose fields are the flags of
``grukit analyze gradients`` (nothing restated by hand), checked when made."""

from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from grukit.cli import analyze
from grukit.config import build
from grukit.experiments.gradients import DEFAULT_MODELS, GradientStudy


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    return parser.parse_args(["gradients", *argv])


def test_every_field_is_a_flag_with_the_fields_default():
    args = parse([])
    assert build(GradientStudy, vars(args)) == GradientStudy()
    assert GradientStudy().models == DEFAULT_MODELS
    for item in fields(GradientStudy):
        assert hasattr(args, item.name), item.name


def test_flags_reach_the_study():
    args = parse(["--seq-len", "50", "--models", "rnn, gru+chrono", "--hidden", "8"])
    study = build(GradientStudy, vars(args))
    assert (study.seq_len, study.models, study.hidden) == (50, ("rnn", "gru+chrono"), 8)


def test_a_bad_model_or_length_is_refused_by_name():
    with pytest.raises(ValueError, match="models: got 'gruu'"):
        GradientStudy(models=("gruu",))
    with pytest.raises(ValueError, match="seq-len: got 1"):
        GradientStudy(seq_len=1)
    with pytest.raises(ValueError, match="models: got 3 \\(int\\), wanted a list of names"):
        build(GradientStudy, {"models": 3})
