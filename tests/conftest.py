import os

# One BLAS thread per test process, set before numpy loads OpenBLAS (subprocesses inherit
# it). Two test workers on two cores, each with a BLAS thread per core, oversubscribe the
# machine, and OpenBLAS's waiting threads then crawl: scikit-learn's logistic regression
# (the digits baseline) took 57 s instead of 0.5 s on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state."""
    torch.manual_seed(1234)
    yield
