"""``grukit <command>``: one module per sub-command, each with ``add_arguments`` and
``run``; they parse options and print, the work is done by ``grukit.run``,
``grukit.experiments``, ``grukit.inference`` and ``grukit.analysis``. Only the module of
the command given is imported, and no module imports torch at its top: ``grukit --help``
and ``--version`` import no command at all, and ``grukit generate`` of a NumPy-steppable
model never imports torch, whose import alone takes 1-2 s."""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys

from grukit import __version__
from grukit.extras import MissingExtra

# command -> (its module in grukit.cli, its line under ``grukit --help``): the list is
# drawn from here, without importing the commands' modules.
COMMANDS = {
    "train": ("train", "train a model on a task (music, adding, copy, digits, spoken_digits, ...)"),
    "eval": ("evaluate", "score a checkpoint folder on a data split"),
    "predict": ("predict", "predict on new data with a checkpoint (classification, forecasting)"),
    "generate": ("generate", "sample text from a language-model checkpoint"),
    "reproduce": (
        "reproduce",
        "train the models of a paper and print our numbers beside its table",
    ),
    "analyze": (
        "analyze",
        "gradient decay over time (gradients) and gate heat maps of a checkpoint (gates)",
    ),
    "env": ("env", "print versions, threads and the backend that runs here"),
    "build": ("build", "build and check the fused CPU kernels"),
}


# How alike (difflib's ratio) an option must be to one typed to be suggested: --hiden for
# --hidden scores 0.93, --lrr for --lr 0.89; --bogus for --out only 0.67.
SIMILAR = 0.75


def unrecognized(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """The one-line error for options ``parser`` does not take, with the closest option it
    does take for each (difflib's similarity, as Python 3.14's argparse suggests), e.g.
    "unrecognized arguments: --hiden 32 (did you mean --hidden?)"."""
    # argparse keeps no public list of a parser's options.
    options = [option for option in parser._option_string_actions if option.startswith("--")]
    guesses = {}
    for word in unknown:
        if word.startswith("--"):
            given = word.split("=", 1)[0]
            close = difflib.get_close_matches(given, options, n=1, cutoff=SIMILAR)
            if close:
                guesses[given] = close[0]
    message = f"unrecognized arguments: {' '.join(unknown)}"
    if len(guesses) == 1:
        return f"{message} (did you mean {next(iter(guesses.values()))}?)"
    if guesses:
        pairs = ", ".join(f"{close} for {given}" for given, close in guesses.items())
        return f"{message} (did you mean {pairs}?)"
    return f"{message} (see {parser.prog} --help)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="grukit", description="grukit: every GRU variant, fast.")
    parser.add_argument("--version", action="version", version=f"grukit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subparsers = {
        name: commands.add_parser(
            name, help=help, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        for name, (_, help) in COMMANDS.items()
    }
    # Only the command given gets its module, its description and its options.
    module = None
    if argv and argv[0] in COMMANDS:
        name = argv[0]
        module = importlib.import_module(f"grukit.cli.{COMMANDS[name][0]}")
        subparsers[name].description = module.__doc__
        if name == "train":  # its options depend on --task
            module.add_arguments(subparsers[name], argv)
        else:
            module.add_arguments(subparsers[name])
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # one line (the sub-command's usage would list every option it takes)
        sub = subparsers[args.command]
        print(f"{sub.prog}: error: {unrecognized(sub, unknown)}", file=sys.stderr)
        raise SystemExit(2)
    try:
        return module.run(args)
    except KeyboardInterrupt as interrupt:
        # A command may say how to go on (grukit train: the command resuming its run).
        then = f"; {interrupt.args[0]}" if interrupt.args else ""
        print(f"grukit: interrupted{then}", file=sys.stderr)
        return 130
    # Bad input or a missing optional package: one line, no traceback.
    except (ValueError, FileNotFoundError, MissingExtra) as error:
        if os.environ.get("GRUKIT_DEBUG"):
            raise
        print(f"grukit {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
