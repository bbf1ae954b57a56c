import os

# Threads, set before numpy and torch load their pools (subprocesses of tests inherit them).
# One BLAS thread: two test workers each running a BLAS thread per core oversubscribe the
# machine, and OpenBLAS's waiting threads then crawl (scikit-learn's logistic regression,
# the digits baseline, took 57 s instead of 0.5 s on a busy 2-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Under pytest-xdist, each of n workers gets cores / n torch threads: n workers each with
# torch's default of a thread per core wait at every OpenMP fork/join for threads the
# machine has no core for (a fused forward at T=2000: 0.43 s on one thread, 29 s on two on
# a busy 2-core machine). Tests of thread counts set their own.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (cores or 1) // WORKERS)))

import pytest  # noqa: E402
import torch  # noqa: E402

if WORKERS > 1:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_sessionstart(session):
    """Build the fused kernels once, before any test (and before xdist starts its workers),
    so that a first build (about 35 s, minutes on a busy machine) counts against no test's
    timeout nor its duration."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller built them
        return
    from grukit.kernels.cpu.build import BuildError, load_extension

    try:
        load_extension()
    except BuildError:
        pass  # the tests of the fallback say what happens without them


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    torch.manual_seed(1234)
    yield
