"""Versions, threads and which backend runs here: paste it into a bug report."""

from __future__ import annotations

import argparse
import platform
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    import numpy
    import torch

    import grukit
    from grukit.kernels import choose_backend
    from grukit.kernels.cpu.build import build_directory
    from grukit.train.threads import available_cores, busy_cores, choose_threads

    choice = choose_backend("auto", torch.device("cpu"), torch.float32)
    lines = {
        "grukit": grukit.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "torch threads": torch.get_num_threads(),
        "cores": f"{available_cores()} ({busy_cores():.1f} busy with other jobs now)",
        "--threads 0 uses": choose_threads(0),
        "cpu float32 backend": f"{choice.name} ({choice.reason})",
        "kernel cache": build_directory(),
    }
    for name, value in lines.items():
        print(f"{name + ':':<21} {value}")
    return 0
