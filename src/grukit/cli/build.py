"""Build the fused CPU extension ahead of time (otherwise the first fused forward pass
builds it), check it against the reference, and say where it is cached."""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show the compiler's output")


def run(args: argparse.Namespace) -> int:
    import torch

    import grukit
    from grukit.kernels.cpu.build import BuildError, build_directory, load_extension

    print(f"building the fused CPU extension in {build_directory()} ...", flush=True)
    started = time.perf_counter()
    try:
        load_extension(verbose=args.verbose)
    except BuildError as error:
        print(f"grukit build: {error}", file=sys.stderr)
        return 1
    print(f"built (or found in the cache) in {time.perf_counter() - started:.1f} s")
    torch.manual_seed(0)
    fused = grukit.GRU(8, 16, 2, bidirectional=True, backend="fused")
    reference = grukit.GRU(8, 16, 2, bidirectional=True, backend="reference")
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(12, 3, 8)
    difference = (fused(x, lengths=[12, 5, 1])[0] - reference(x, lengths=[12, 5, 1])[0]).abs().max()
    if difference > 1e-5:
        print(
            f"grukit build: the fused kernels differ from the reference by {difference:.2e}",
            file=sys.stderr,
        )
        return 1
    print(f"check: fused equals the reference (max difference {difference:.1e})")
    return 0
