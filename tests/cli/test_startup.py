"""``grukit --version`` and ``grukit --help`` answer without importing torch (whose import
alone takes 1-3 s) nor any command's module; no command module imports torch at its top;
the command table names modules that exist; an option mistyped is answered in one line
with the closest option."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import grukit
from grukit.cli import COMMANDS, main


def imported_by(code: str) -> list[str]:
    """The modules of torch and grukit.cli a fresh interpreter has imported after ``code``
    (which may exit through argparse's SystemExit)."""
    script = (
        "import sys\ntry:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        + "\nexcept SystemExit:\n    pass\n"
        + 'print(sorted(m for m in sys.modules if m == "torch" or m.startswith("grukit.cli.")),'
        + " file=sys.stderr)\n"
    )
    source = str(Path(grukit.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return eval(result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_neither_torch_nor_a_command(flag):
    assert imported_by(f"from grukit.cli import main\nmain([{flag!r}])") == []


def test_a_commands_help_imports_that_command_only():
    assert imported_by("from grukit.cli import main\nmain(['generate', '--help'])") == [
        "grukit.cli.generate"
    ]


def test_no_command_module_imports_torch_at_its_top():
    names = [f"grukit.cli.{module}" for module, _ in COMMANDS.values()]
    assert imported_by("\n".join(f"import {name}" for name in names)) == sorted(names)


def test_the_table_names_each_commands_module():
    for name, (module_name, help) in COMMANDS.items():
        module = importlib.import_module(f"grukit.cli.{module_name}")
        assert callable(module.add_arguments) and callable(module.run), name
        assert module.__doc__ and help and "\n" not in help, name


@pytest.mark.parametrize(
    "typed, line",
    [
        (["--hiden", "32"], "--hiden 32 (did you mean --hidden?)"),
        (["--hiden=32"], "--hiden=32 (did you mean --hidden?)"),
        (
            ["--hiden", "4", "--lrr", "0.1"],
            "--hiden 4 --lrr 0.1 (did you mean --hidden for --hiden, --lr for --lrr?)",
        ),
        (["--bogus", "1"], "--bogus 1 (see grukit train --help)"),  # nothing close
    ],
)
def test_a_mistyped_option_gets_the_closest_one_in_one_line(typed, line, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--task", "adding", *typed])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"grukit train: error: unrecognized arguments: {line}\n"
