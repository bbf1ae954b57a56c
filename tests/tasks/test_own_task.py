"""The README's "add your own task" example is complete: registered from outside the
package, it trains through the same runner as every task and learns parity."""

from __future__ import annotations

import io
import runpy
from pathlib import Path

import pytest

import grukit
from grukit.tasks import TASKS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own_task.py"


def test_the_example_task_trains_and_learns(tmp_path):
    TASKS.pop("parity", None)
    runpy.run_path(str(EXAMPLE))  # defines ParityTask and registers it (not __main__)
    try:
        # 4 bits: 16 distinct strings, so 1000 hold them all. The loss sits at ln 2 for
        # about 900 steps (all right after 60 epochs of 16 batches with seeds 0-5, not yet
        # after 50 with seed 0); 40 epochs of 32 batches make 1280.
        result = grukit.train_task(
            "parity", seq_len=4, size=1000, epochs=40, out=tmp_path / "run", log=io.StringIO()
        )
        # Chance is 50%; a GRU that has learnt to flip its state on every 1 gets all right.
        assert result["test_accuracy"] == 1.0
        assert (tmp_path / "run" / "curves.png").is_file()
        with pytest.raises(ValueError, match="'parity' is registered already"):
            runpy.run_path(str(EXAMPLE))
    finally:
        TASKS.pop("parity", None)
