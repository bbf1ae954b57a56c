"""grukit.config: options as dataclasses, read from the command line and from TOML/JSON
files, type-checked, and built from layers in order (defaults, file, command line)."""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, fields

import pytest

from grukit.config import (
    add_arguments,
    build,
    checked_value,
    option,
    parse_bool,
    read_config_file,
    require_at_least,
    require_non_negative,
    unknown_keys,
)


@dataclass
class Options:
    """options of a test"""

    hidden: int = option(3, "hidden units")
    lr: float = option(0.5, "learning rate")
    bidirectional: bool = option(False, "both directions")
    name: str = option("gru", "the model")
    data: str | None = option(None, "a file")
    clip: float | None = option(None, "gradient clipping (default: off)")


@dataclass
class Other:
    epochs: int = option(1, "epochs")


def test_option_is_a_field_with_its_help():
    hidden = next(item for item in fields(Options) if item.name == "hidden")
    assert hidden.default == 3 and hidden.metadata["help"] == "hidden units"
    assert Options() == Options(3, 0.5, False, "gru", None, None)


def test_require_at_least_and_non_negative_name_the_option():
    options = Options(hidden=0, lr=-0.1)
    require_at_least(options, 0, "hidden")  # 0 >= 0: accepted
    with pytest.raises(ValueError, match=r"^hidden: got 0, wanted an int >= 1$"):
        require_at_least(options, 1, "hidden")
    require_non_negative(Options(lr=0.0), "lr")
    with pytest.raises(ValueError, match=r"^lr: got -0.1, wanted a finite number >= 0$"):
        require_non_negative(options, "lr")
    for bad in (math.inf, math.nan):
        with pytest.raises(ValueError, match=rf"^lr: got {bad}, wanted a finite number >= 0$"):
            require_non_negative(Options(lr=bad), "lr")


@pytest.mark.parametrize(
    "text, value",
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True)]
    + [("false", False), ("0", False), ("no", False), ("OFF", False)],
)
def test_parse_bool(text, value):
    assert parse_bool(text) is value


def test_parse_bool_refuses_anything_else():
    for text in ("maybe", "", "2", "t"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"got {text!r}, wanted true or false"):
            parse_bool(text)


def parser_for(cls=Options, **kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test")
    add_arguments(parser, cls, **kwargs)
    return parser


def test_add_arguments_parses_each_field_by_its_type():
    args = vars(parser_for().parse_args(["--hidden", "8", "--lr=1e-3", "--name", "lstm"]))
    assert args == {
        "hidden": 8,
        "lr": 0.001,
        "bidirectional": None,
        "name": "lstm",
        "data": None,
        "clip": None,
    }
    assert type(args["hidden"]) is int and type(args["lr"]) is float
    # str | None and float | None read as str and float.
    args = vars(parser_for().parse_args(["--data", "x.npz", "--clip", "2"]))
    assert args["data"] == "x.npz" and args["clip"] == 2.0
    with pytest.raises(SystemExit):
        parser_for().parse_args(["--hidden", "2.5"])


def test_unset_options_are_none_so_they_do_not_override_a_file():
    assert set(vars(parser_for().parse_args([])).values()) == {None}


@pytest.mark.parametrize(
    "argv, value",
    [
        (["--bidirectional"], True),
        (["--no-bidirectional"], False),
        (["--bidirectional", "false"], False),
        (["--bidirectional=yes"], True),
    ],
)
def test_a_true_false_option_is_a_flag_pair(argv, value):
    assert parser_for().parse_args(argv).bidirectional is value


def test_help_shows_each_default_and_the_overrides(capsys):
    parser = parser_for(defaults={"hidden": 64}, title="model", skip=("name",))
    text = parser.format_help()
    assert "hidden units (default: 64)" in text  # the override, not the dataclass's 3
    assert "learning rate (default: 0.5)" in text
    assert "a file (default: none)" in text
    assert "gradient clipping (default: off)" in text  # a help that states its own default
    assert "--no-bidirectional" not in text  # the negative flag is accepted, not listed
    assert "--name" not in text and "model:" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "lstm"])
    assert "unrecognized arguments: --name lstm" in capsys.readouterr().err


def test_read_a_toml_file_with_sections_flattened(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('task = "vowels"\n[model]\nhidden = 64\n[train]\nlr = 0.01\nclip = 1\n')
    assert read_config_file(path) == {"task": "vowels", "hidden": 64, "lr": 0.01, "clip": 1}
    assert read_config_file(path, flat=False) == {
        "task": "vowels",
        "model": {"hidden": 64},
        "train": {"lr": 0.01, "clip": 1},
    }


def test_read_a_json_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": {"bidirectional": True}, "data": None}))
    assert read_config_file(path) == {"bidirectional": True, "data": None}


@pytest.mark.parametrize(
    "name, text, error, message",
    [
        ("bad.toml", "hidden = ", ValueError, "could not be parsed"),
        ("bad.json", "{hidden: 1}", ValueError, "could not be parsed"),
        ("list.json", "[1, 2]", ValueError, "holds no table of options"),
        ("deep.toml", "[model]\n[model.inner]\nx = 1\n", ValueError, "inner: got a table"),
        ("latin1.toml", b'name = "\xe9"\n', ValueError, "could not be parsed"),
    ],
)
def test_a_bad_file_is_refused_by_name(tmp_path, name, text, error, message):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(error, match=message) as caught:
        read_config_file(path)
    if "table" not in message:
        assert str(path) in str(caught.value)


def test_a_missing_file_is_refused_by_name(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config: '.*nowhere.toml' is not a file"):
        read_config_file(tmp_path / "nowhere.toml")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        read_config_file(tmp_path)  # a folder


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("hidden", 4, 4),
        ("lr", 1, 1.0),  # an int is a number
        ("lr", 0.25, 0.25),
        ("bidirectional", False, False),
        ("name", "lstm", "lstm"),
        ("data", None, None),  # str | None: None is a value
        ("clip", 2, 2.0),
    ],
)
def test_checked_value_accepts_its_type(name, value, expected):
    annotation = {item.name: item.type for item in fields(Options)}[name]
    got = checked_value(name, annotation, value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("hidden", "64", "hidden: got '64' (str), wanted an int"),
        ("hidden", True, "hidden: got True (bool), wanted an int"),  # bool is an int in Python
        ("hidden", 2.0, "hidden: got 2.0 (float), wanted an int"),
        ("lr", "0.1", "lr: got '0.1' (str), wanted a number"),
        ("lr", False, "lr: got False (bool), wanted a number"),
        ("bidirectional", "false", "bidirectional: got 'false' (str), wanted true or false"),
        ("bidirectional", 0, "bidirectional: got 0 (int), wanted true or false"),
        ("name", 3, "name: got 3 (int), wanted str"),
        ("name", None, "name: got None (NoneType), wanted str"),  # not optional
    ],
)
def test_checked_value_refuses_another_type(name, value, message):
    annotation = {item.name: item.type for item in fields(Options)}[name]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        checked_value(name, annotation, value)


def test_build_applies_layers_in_order_and_none_is_unset():
    task_defaults = {"hidden": 16, "lr": 0.1}
    config_file = {"hidden": 32, "name": "lstm", "epochs": 9}  # epochs: another class's
    command_line = {"hidden": 64, "name": None, "bidirectional": None}
    built = build(Options, task_defaults, config_file, command_line)
    # hidden: the command line over the file over the task; lr: the task's; name: the
    # file's (None on the command line sets nothing); the rest: the dataclass's.
    assert built == Options(hidden=64, lr=0.1, name="lstm")
    assert build(Options) == Options()
    assert build(Other, task_defaults, config_file, command_line) == Other(epochs=9)


def test_build_checks_each_value_and_the_classes_own_checks_run():
    with pytest.raises(ValueError, match=r"^lr: got '0.1' \(str\), wanted a number$"):
        build(Options, {"lr": "0.1"})
    built = build(Options, {"lr": 2})
    assert built.lr == 2.0 and type(built.lr) is float

    @dataclass
    class Checked:
        size: int = option(1, "a size")

        def __post_init__(self):
            require_at_least(self, 1, "size")

    with pytest.raises(ValueError, match=r"^size: got 0, wanted an int >= 1$"):
        build(Checked, {"size": 0})


def test_unknown_keys_are_those_of_no_class():
    values = {"hidden": 1, "epochs": 2, "hiden": 3, "batch": 4}
    assert unknown_keys(values, Options, Other) == ["batch", "hiden"]
    assert unknown_keys(values, Options) == ["batch", "epochs", "hiden"]
    assert unknown_keys({}, Options) == []
