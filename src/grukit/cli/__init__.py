"""``grukit <command>``: one module per sub-command, each with ``add_arguments`` and
``run``; they parse options and print, the work is done by ``grukit.tasks.runner``,
``grukit.experiments``, ``grukit.inference``, ``grukit.generation`` and
``grukit.analysis``."""

from __future__ import annotations

import argparse
import os
import sys

from grukit.cli import analyze, build, env, evaluate, generate, predict, reproduce, train
from grukit.extras import MissingExtra

COMMANDS = {
    "train": train,
    "eval": evaluate,
    "predict": predict,
    "generate": generate,
    "reproduce": reproduce,
    "analyze": analyze,
    "env": env,
    "build": build,
}


def main(argv: list[str] | None = None) -> int:
    import grukit

    parser = argparse.ArgumentParser(prog="grukit", description="grukit: every GRU variant, fast.")
    parser.add_argument("--version", action="version", version=f"grukit {grukit.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subparsers = {}
    for name, module in COMMANDS.items():
        sub = subparsers[name] = commands.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if module is train:  # its options depend on --task
            module.add_arguments(sub, sys.argv[1:] if argv is None else argv)
        else:
            module.add_arguments(sub)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said under the sub-command's usage, which lists what it does take
        subparsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return COMMANDS[args.command].run(args)
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
