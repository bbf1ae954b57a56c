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
    # The variant table: every form, each time relative to the plain GRU's as printed.
    variants = results["variants"]
    names = [name for name, _ in module["VARIANT_FORMS"]]
    assert list(variants["inference"]) == list(variants["training"]) == names
    for name in names:
        inference = variants["inference"][name] / variants["inference"]["gru"]
        training = variants["training"][name] / variants["training"]["gru"]
        assert f"| {name} | {inference:.2f} | {training:.2f} |" in printed
    assert "| gru | 1.00 | 1.00 |" in printed
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


def test_medians_time_each_candidate_after_one_warm_up(monkeypatch):
    """interleaved_medians, which every table's times come from, on a fake clock: each
    candidate is called once untimed, then ``repeats`` times in turns, and its median is
    of its own calls only."""
    module = runpy.run_path(str(ROOT / "benchmarks" / "cpu.py"))
    now, calls = [0.0], []

    def candidate(name, seconds):
        def run():
            calls.append(name)
            now[0] += seconds.pop(0)

        return run

    fake_time = type("Clock", (), {"perf_counter": staticmethod(lambda: now[0])})
    monkeypatch.setitem(module["interleaved_medians"].__globals__, "time", fake_time)
    medians = module["interleaved_medians"](
        {"a": candidate("a", [100.0, 1.0, 3.0, 2.0]), "b": candidate("b", [100.0, 5.0, 7.0, 9.0])},
        repeats=3,
    )
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-up, then turns
    assert medians == {"a": 2.0, "b": 7.0}  # the warm-up's 100 s counts for neither
