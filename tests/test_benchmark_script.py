"""benchmarks/cpu.py runs end to end on tiny shapes and reports every peer (speed itself is
held by the benchmark, not by tests)."""

from __future__ import annotations

import runpy
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_smoke(capsys):
    module = runpy.run_path(str(ROOT / "benchmarks" / "cpu.py"))
    threads = torch.get_num_threads()
    try:
        results = module["main"](["--smoke", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert "| (1, 20, 8, 16) | training |" in printed
    assert set(results["peers"][0]["inference"]) == {
        "grukit",
        "torch.nn.GRU",
        "torch.nn.LSTM",
        "ONNX Runtime",
    }
    assert set(results["streaming"]) >= {"grukit Stream", "torch.nn.GRUCell"}
    assert all(seconds > 0 for seconds in results["variants"]["training"].values())
    regularisers = results["regularisers"][0]["training"]
    assert {"plain", "zoneout=0.1", "unfused loop, recurrent dropout"} <= set(regularisers)
    assert "| zoneout=0.1 |" in printed


def test_benchmark_bf16_rows(capsys):
    from grukit.kernels.dispatch import bf16_support

    module = runpy.run_path(str(ROOT / "benchmarks" / "cpu.py"))
    rows = module["bf16_rows"](
        [
            {
                "config": (4, 10, 8, 16, 1),
                "training": {"grukit bf16": 1.0, "grukit fp32": 2.0},
                "inference": {"grukit bf16": 1.0, "ONNX Runtime fp32": 3.0},
            }
        ],
        module["bf16_instruction_set"](),
    )
    assert "| (4, 10, 8, 16, 1) | training | 1.000 s | 2.00 | - |" in rows[3]
    assert rows[4].endswith("| 3.00 |")
    assert module["bf16_instruction_set"]().startswith("none") != bf16_support()[0]
