"""Sample text from a language-model checkpoint (``grukit train --task lm``), e.g.

    grukit generate runs/ptb-char-gru-256/best --prompt "the company said" --tokens 300
    grukit generate runs/ptb-gru-650/best --temperature 0.8 --top-p 0.9 --seed 1

Prints the prompt as the model reads it (words the vocabulary lacks as <unk>; characters
it lacks left out, with a note), then each sampled token as it comes. An empty prompt
starts a new line. Temperature, then top-k, then top-p (nucleus) shape each step's
distribution; a temperature of 1e-4 or less is greedy decoding (the argmax). Without
--seed a random one is used and said on stderr, so a text can be drawn again.

A gru, LSTM or tanh-RNN model is stepped in NumPy (``grukit.numpy_lm``): torch is not
imported, and the first token comes well within a second of the start; other models go
through torch (``--engine`` chooses; both give the same text for a seed).
"""

from __future__ import annotations

import argparse
import random
import sys
import warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint folder (a run's best/ or last/)")
    parser.add_argument("--prompt", default="", help="text to continue (default: none)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens to sample (default 200)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="> 0; below 1 sharper, above 1 flatter; <= 1e-4: greedy (default 1)",
    )
    parser.add_argument("--top-k", type=int, help="sample among the K most probable tokens")
    parser.add_argument(
        "--top-p", type=float, help="sample among the fewest tokens holding probability P"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: a random one, printed)")
    parser.add_argument(
        "--engine",
        choices=("auto", "numpy", "torch"),
        default="auto",
        help="step the model in NumPy (no torch import: a fast start; gru, lstm and rnn "
        "models), through torch (any model), or auto: NumPy where it can (default)",
    )


def run(args: argparse.Namespace) -> int:
    from grukit.generation import check_generation, load_generator

    check_generation(args.tokens, args.temperature, args.top_k, args.top_p)
    generator = load_generator(args.checkpoint, args.engine)
    seed = random.SystemRandom().randrange(2**31) if args.seed is None else args.seed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pieces = generator.stream(
            args.prompt, args.tokens, args.temperature, args.top_k, args.top_p, seed
        )
    for warning in caught:  # a prompt's left-out characters
        print(f"grukit generate: {warning.message}", file=sys.stderr)
    if args.seed is None:
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
