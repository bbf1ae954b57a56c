"""Sample text from a language-model checkpoint (``grukit train --task lm``), e.g.

    grukit generate runs/ptb-char-gru-256/best --prompt "the company said" --tokens 300
    grukit generate runs/ptb-gru-650/best --temperature 0.8 --top-p 0.9 --seed 1

Prints the prompt as the model reads it (words the vocabulary lacks as <unk>; characters
it lacks left out, with a note), then each sampled token as it comes. An empty prompt
starts a new line. Temperature, then top-k, then top-p (nucleus) shape each step's
distribution; a temperature of 1e-4 or less is greedy decoding (the argmax). Without
--seed a random one is used and said on stderr, so a text can be drawn again.

A gru, LSTM or tanh-RNN model is stepped in NumPy (``grukit.inference.numpy_engine``): torch is not
imported, and the first token comes well within a second of the start; other models go
through torch (``--engine`` chooses; both give the same text for a seed).
"""

from __future__ import annotations

import argparse
import random
import sys
import warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from grukit.config import add_arguments as add_options
    from grukit.inference.sampling import GenerationConfig

    parser.add_argument("checkpoint", help="a checkpoint folder (a run's best/ or last/)")
    parser.add_argument("--prompt", default="", help="text to continue (default: none)")
    # num_beams and length_penalty are for search decoders; a language model samples.
    add_options(parser, GenerationConfig, skip=("num_beams", "length_penalty"))
    parser.add_argument(
        "--engine",
        choices=("auto", "numpy", "torch"),
        default="auto",
        help="step the model in NumPy (no torch import: a fast start; gru, lstm and rnn "
        "models), through torch (any model), or auto: NumPy where it can (default)",
    )


def run(args: argparse.Namespace) -> int:
    from grukit.config import build
    from grukit.inference.registry import load
    from grukit.inference.sampling import GenerationConfig

    config = build(GenerationConfig, vars(args))
    generator = load(args.checkpoint, command="generate", engine=args.engine)
    if config.seed is None:
        config = config.updated(seed=random.SystemRandom().randrange(2**31))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pieces = generator.stream(args.prompt, config)
    for warning in caught:  # a prompt's left-out characters
        print(f"grukit generate: {warning.message}", file=sys.stderr)
    if args.seed is None:
        seed = config.seed
        print(f"grukit generate: seed {seed} (--seed {seed} draws it again)", file=sys.stderr)
    text = generator.prompt_text(args.prompt)
    sys.stdout.write(text)
    sys.stdout.flush()
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
        text = piece or text
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    return 0
