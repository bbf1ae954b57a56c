"""How many threads a run uses.

PyTorch starts one OpenMP thread per core and its threads spin while they wait for each
other. When other jobs already use the cores, every spinning thread competes with them:
measured in a review of grukit, a tanh RNN's epoch went from 0.5 s to 16-76 s
with two other runs on the two cores, and back with one thread per run. The count changes
the speed of grukit's recurrent layers, not their numbers: the fused kernels give
bit-identical results for any count. torch's own layers (LSTM, RNN, the linear read-outs)
may round differently with another count (their GEMMs split the work by thread), which
after many epochs can move a result in its second decimal (the demo's tanh RNN: test 9.03
with 2 threads, 8.99 with 1).

``threads = 0`` (auto): torch's own default (one thread per physical core), the count every
run had before the option existed, whatever the load: a run's numbers must not depend on
what else the machine was doing. When other jobs already keep cores busy, a warning says
so and names ``--threads`` with the count that would fit beside them.
"""

from __future__ import annotations

import os
import time

import torch

# Before any run changed it: torch's default (physical cores), or the user's own setting.
DEFAULT_THREADS = torch.get_num_threads()

SAMPLE_SECONDS = 0.1  # long enough to see a busy core, short beside any run


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float:
    """How many cores other processes keep busy, measured over ``seconds`` from
    /proc/stat (this process's own use left out); 0.0 where /proc/stat is missing."""

    def machine_busy() -> float | None:
        try:
            with open("/proc/stat") as handle:
                fields = [float(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
        return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")

    def own_seconds() -> float:
        times = os.times()
        return times.user + times.system

    start_busy, start_own, start = machine_busy(), own_seconds(), time.perf_counter()
    if start_busy is None:
        return 0.0
    time.sleep(seconds)
    elapsed = time.perf_counter() - start
    others = (machine_busy() - start_busy) - (own_seconds() - start_own)
    return max(0.0, others / elapsed)


def choose_threads(requested: int, log=None) -> int:
    """The thread count for ``requested`` (0 = auto, see the module doc); on a busy
    machine, auto warns on ``log`` with the count that would fit beside the other jobs."""
    if requested > 0 or log is None:  # the load is measured only to warn about it
        return requested or DEFAULT_THREADS
    cores = available_cores()
    busy = busy_cores()
    fits = max(1, min(DEFAULT_THREADS, round(cores - busy)))
    if fits < min(DEFAULT_THREADS, cores):
        print(
            f"threads: other jobs keep about {busy:.1f} of {cores} cores busy; this run uses "
            f"{DEFAULT_THREADS} threads, which will compete with them: --threads {fits} would "
            "fit beside them (the count can change torch's rounding, so keep it for a rerun)",
            file=log,
            flush=True,
        )
    return DEFAULT_THREADS
