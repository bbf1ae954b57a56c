"""``grukit <command>``: one module per sub-command, each with ``add_arguments`` and
``run``; they parse options and print, the work is done by ``grukit.run``,
``grukit.experiments``, ``grukit.inference`` and
``grukit.analysis``. Only the module of the command given is imported (``grukit generate``
of a NumPy-steppable model never imports torch, whose import alone takes 1-2 s)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from grukit.extras import MissingExtra

# command -> its module in grukit.cli
COMMANDS = {
    "train": "train",
    "eval": "evaluate",
    "predict": "predict",
    "generate": "generate",
    "reproduce": "reproduce",
    "analyze": "analyze",
    "env": "env",
    "build": "build",
}


def main(argv: list[str] | None = None) -> int:
    import grukit

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="grukit", description="grukit: every GRU variant, fast.")
    parser.add_argument("--version", action="version", version=f"grukit {grukit.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The command given, or every command when none is (for the list under --help).
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    subparsers, modules = {}, {}
    for name in wanted:
        module = modules[name] = importlib.import_module(f"grukit.cli.{COMMANDS[name]}")
        sub = subparsers[name] = commands.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "train":  # its options depend on --task
            module.add_arguments(sub, argv)
        else:
            module.add_arguments(sub)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said under the sub-command's usage, which lists what it does take
        subparsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return modules[args.command].run(args)
    except KeyboardInterrupt:
        print("grukit: interrupted", file=sys.stderr)
        return 130
    # Bad input or a missing data package: one line, no traceback.
    except (ValueError, FileNotFoundError, MissingExtra) as error:
        if os.environ.get("GRUKIT_DEBUG"):
            raise
        print(f"grukit {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
