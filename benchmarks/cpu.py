"""CPU speed of grukit's fused backend against torch.nn.GRU, torch.nn.LSTM and ONNX Runtime.

    python benchmarks/cpu.py                 # the full grid (a few minutes on 2 cores)
    python benchmarks/cpu.py --smoke         # tiny shapes, to check the script runs

Every number is a median of --repeats runs; the candidates of one config run interleaved
in one process (run 1 of each, then run 2 of each, ...), so their ratios share the
machine's state; ONNX Runtime runs with its default session options (its intra-op threads
spin between runs, as its users run it; only the thread count is set, to the others'), so
it is timed in its own block after the others. float32, --threads threads (default 2) for
torch and ONNX Runtime.

Tables: inference and training (forward + backward of a weighted sum of output and h_n)
per config (batch, seq_len, input, hidden) with ratios peer / grukit (> 1: grukit faster)
and grukit's achieved GFLOP/s against this machine's measured large-matmul rate; each
variant's time relative to grukit's `gru`; each regulariser's training time against the
plain fused path, plain torch.nn.GRU and the unfused loop Keras falls back to; streaming
latency per step at batch 1; bfloat16 (grukit under torch.autocast, its GEMMs' operands
in bfloat16) against float32 grukit, torch.nn.GRU and torch.nn.LSTM in float32 and under
autocast, and ONNX Runtime float32 inference, with the instruction set it ran on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

import grukit

CONFIGS = [(1, 1000, 64, 128), (32, 100, 64, 256), (64, 200, 128, 512), (128, 50, 32, 64)]
SMOKE_CONFIGS = [(1, 20, 8, 16), (4, 10, 8, 16)]
REGULARISER_CONFIGS = [(32, 100, 64, 256), (64, 200, 128, 512)]
REGULARISERS = [
    ("recurrent_dropout=0.25", {"recurrent_dropout": 0.25}),
    ("zoneout=0.1", {"zoneout": 0.1}),
    ("weight_dropout=0.5", {"weight_dropout": 0.5}),
    ("input_dropout=0.3 locked", {"input_dropout": 0.3, "dropout_mode": "locked"}),
    ("norm=layer", {"norm": "layer"}),
    (
        "all four",
        {
            "recurrent_dropout": 0.25,
            "zoneout": 0.1,
            "weight_dropout": 0.5,
            "input_dropout": 0.3,
            "dropout_mode": "locked",
        },
    ),
]
VARIANT_FORMS = [
    ("gru", {}),
    ("gru reset_after=False", {"reset_after": False}),
    ("gru1", {"variant": "gru1"}),
    ("gru2", {"variant": "gru2"}),
    ("gru3", {"variant": "gru3"}),
    ("mgu", {"variant": "mgu"}),
    ("ligru", {"variant": "ligru"}),
    ("mingru", {"variant": "mingru"}),
]


def own_block_medians(candidates: dict[str, Callable[[], object]], repeats: int) -> dict:
    """Medians of candidates whose threads keep spinning after a run (ONNX Runtime with its
    default options): timed in their own block, after the others, then given a moment to
    go idle, so that the spinning slows nothing else."""
    medians = interleaved_medians(candidates, repeats)
    time.sleep(0.5)
    return medians


def interleaved_medians(
    candidates: dict[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Median seconds of each candidate, timed in turns after one warm-up call each."""
    for run in candidates.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def matmul_gflops(repeats: int, size: int = 2048) -> float:
    """This machine's large float32 matmul rate, the ceiling the GFLOP/s are read against."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = interleaved_medians({"mm": lambda: a @ b}, repeats)["mm"]
    return 2 * size**3 / seconds / 1e9


def recurrent_flops(batch: int, steps: int, inputs: int, hidden: int, gates: int) -> float:
    """Multiply-adds x 2 of the input and recurrent GEMMs of one forward pass."""
    return 2.0 * batch * steps * gates * hidden * (inputs + hidden)


def onnx_runtime_gru(torch_gru: torch.nn.GRU, threads: int):
    """torch_gru as an ONNX GRU operator in an ONNX Runtime session, or None without it."""
    try:
        import onnxruntime

        from grukit.interop.onnx import onnx_gru_model
    except ImportError:
        return None
    # ONNX Runtime's defaults, as its users run it (intra-op threads spin between runs),
    # but for the thread count, set to the other candidates' for a like-for-like ratio.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    model = onnx_gru_model(grukit.GRU.from_torch(torch_gru))
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def onnx_feed(x: torch.Tensor, hidden: int) -> dict:
    """The ONNX GRU session's inputs for x (T, B, I): every sequence whole, zero state."""
    steps, batch, _ = x.shape
    return {
        "X": x.numpy(),
        "sequence_lens": torch.full((batch,), steps, dtype=torch.int32).numpy(),
        "initial_h": torch.zeros(1, batch, hidden).numpy(),
    }


def training_step(
    module: torch.nn.Module, x: torch.Tensor, weights: torch.Tensor
) -> Callable[[], None]:
    def run():
        output, state = module(x)
        h_n = state[0] if isinstance(state, tuple) else state
        loss = (output * weights).sum() + h_n.sum()
        loss.backward()

    return run


def inference_step(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run():
        with torch.no_grad():
            return module(x)

    return run


def compare_peers(config, repeats: int, threads: int, peak: float) -> dict:
    batch, steps, inputs, hidden = config
    torch.manual_seed(0)
    torch_gru = torch.nn.GRU(inputs, hidden)
    torch_lstm = torch.nn.LSTM(inputs, hidden)
    ours = grukit.GRU.from_torch(torch_gru, backend="fused")
    x = torch.randn(steps, batch, inputs)
    weights = torch.randn(steps, batch, hidden)
    inference = {
        "grukit": inference_step(ours, x),
        "torch.nn.GRU": inference_step(torch_gru, x),
        "torch.nn.LSTM": inference_step(torch_lstm, x),
    }
    own_block = {}
    session = onnx_runtime_gru(torch_gru, threads)
    if session is not None:
        feed = onnx_feed(x, hidden)
        own_block["ONNX Runtime"] = lambda: session.run(None, feed)
    training = {
        "grukit": training_step(ours, x, weights),
        "torch.nn.GRU": training_step(torch_gru, x, weights),
        "torch.nn.LSTM": training_step(torch_lstm, x, weights),
    }
    flops = recurrent_flops(batch, steps, inputs, hidden, 3)
    result = {
        "config": config,
        "inference": {
            **interleaved_medians(inference, repeats),
            **own_block_medians(own_block, repeats),
        },
        "training": interleaved_medians(training, repeats),
    }
    result["inference_gflops"] = flops / result["inference"]["grukit"] / 1e9
    result["training_gflops"] = 3 * flops / result["training"]["grukit"] / 1e9
    result["peak_gflops"] = peak
    return result


def compare_variants(config, repeats: int) -> dict:
    batch, steps, inputs, hidden = config
    torch.manual_seed(0)
    x = torch.randn(steps, batch, inputs)
    weights = torch.randn(steps, batch, hidden)
    layers = {name: grukit.GRU(inputs, hidden, backend="fused", **kw) for name, kw in VARIANT_FORMS}
    inference = interleaved_medians({n: inference_step(m, x) for n, m in layers.items()}, repeats)
    training = interleaved_medians(
        {n: training_step(m, x, weights) for n, m in layers.items()}, repeats
    )
    return {"config": config, "inference": inference, "training": training}


class UnfusedRecurrentDropout(torch.nn.Module):
    """What Keras does with ``recurrent_dropout``: leave the fused path for a per-step loop
    over a cell whose recurrent matmul reads the masked state (one mask per sequence)."""

    def __init__(self, gru: torch.nn.GRU, p: float) -> None:
        super().__init__()
        self.cell = torch.nn.GRUCell(gru.input_size, gru.hidden_size)
        self.p = p

    def forward(self, x):
        w_ih, w_hh = self.cell.weight_ih, self.cell.weight_hh
        b_ih, b_hh = self.cell.bias_ih, self.cell.bias_hh
        gi = torch.nn.functional.linear(x, w_ih, b_ih)  # all steps in one GEMM, as Keras
        h = x.new_zeros(x.shape[1], self.cell.hidden_size)
        mask = torch.empty_like(h).bernoulli_(1 - self.p) / (1 - self.p)
        outputs = []
        for gi_t in gi.unbind(0):
            gh = torch.nn.functional.linear(h * mask, w_hh, b_hh)
            r, z, n = gi_t.chunk(3, -1)
            hr, hz, hn = gh.chunk(3, -1)
            r, z = torch.sigmoid(r + hr), torch.sigmoid(z + hz)
            n = torch.tanh(n + r * hn)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs), h[None]


def compare_regularisers(config, repeats: int) -> dict:
    """Training time of each regulariser on the fused path against the plain fused path,
    plain torch.nn.GRU and the unfused per-step loop Keras falls back to."""
    batch, steps, inputs, hidden = config
    torch.manual_seed(0)
    x = torch.randn(steps, batch, inputs)
    weights = torch.randn(steps, batch, hidden)
    torch_gru = torch.nn.GRU(inputs, hidden)
    layers = {"plain": grukit.GRU(inputs, hidden, backend="fused")}
    layers.update(
        {name: grukit.GRU(inputs, hidden, backend="fused", **kw) for name, kw in REGULARISERS}
    )
    candidates = {name: training_step(layer, x, weights) for name, layer in layers.items()}
    candidates["torch.nn.GRU (plain)"] = training_step(torch_gru, x, weights)
    candidates["unfused loop, recurrent dropout"] = training_step(
        UnfusedRecurrentDropout(torch_gru, 0.25), x, weights
    )
    return {"config": config, "training": interleaved_medians(candidates, repeats)}


def regulariser_rows(results: list[dict]) -> list[str]:
    lines = [
        "Regularisers, training (forward + backward), time relative to grukit's plain fused "
        "path (target: at most 1.15; layer norm 1.5) and torch.nn.GRU's time / this one "
        "(> 1: faster than plain torch.nn.GRU):",
        "| config | regulariser | grukit | vs plain grukit | plain torch.nn.GRU / this |",
        "|---|---|---:|---:|---:|",
    ]
    for result in results:
        times = result["training"]
        plain, peer = times["plain"], times["torch.nn.GRU (plain)"]
        for name, seconds in times.items():
            if name in ("plain", "torch.nn.GRU (plain)"):
                continue
            lines.append(
                f"| {tuple(result['config'])} | {name} | {format_time(seconds)} "
                f"| {seconds / plain:.2f} | {peer / seconds:.2f} |"
            )
    return lines


BF16_CONFIGS = [(32, 100, 64, 256, 1), (64, 200, 128, 512, 1), (20, 35, 650, 650, 2)]
"""(batch, seq_len, input, hidden, layers): the issue's shapes, the last a PTB-sized LM."""


class Autocast(torch.nn.Module):
    """``module`` run under torch.autocast("cpu", bfloat16), its output back in float32."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output, state = self.module(x)
        return output.float(), state


def bf16_instruction_set() -> str:
    """What the bfloat16 GEMMs run on here, in words."""
    from grukit.kernels.cpu.build import cpu_flags
    from grukit.kernels.dispatch import bf16_support

    supported, reason = bf16_support()
    amx = " (AMX present, not used)" if "amx_bf16" in cpu_flags() else " (no AMX)"
    return f"{reason}{amx}" if supported else f"none: {reason}"


def compare_bf16(config, repeats: int, threads: int) -> dict:
    """Training and inference of grukit under autocast against the float32 peers and the
    peers under autocast; ONNX Runtime float32 inference (one layer) in its own block."""
    batch, steps, inputs, hidden, layers = config
    torch.manual_seed(0)
    x = torch.randn(steps, batch, inputs)
    weights = torch.randn(steps, batch, hidden)
    torch_gru = torch.nn.GRU(inputs, hidden, layers)
    ours = grukit.GRU.from_torch(torch_gru)
    lstm = torch.nn.LSTM(inputs, hidden, layers)
    modules = {
        "grukit bf16": Autocast(ours),
        "grukit fp32": ours,
        "torch.nn.GRU fp32": torch_gru,
        "torch.nn.GRU autocast": Autocast(torch_gru),
        "torch.nn.LSTM fp32": lstm,
        "torch.nn.LSTM autocast": Autocast(lstm),
    }
    training = interleaved_medians(
        {name: training_step(m, x, weights) for name, m in modules.items()}, repeats
    )
    inference = interleaved_medians(
        {name: inference_step(m, x) for name, m in modules.items()}, repeats
    )
    session = onnx_runtime_gru(torch_gru, threads) if layers == 1 else None
    if session is not None:
        feed = onnx_feed(x, hidden)
        inference.update(
            own_block_medians({"ONNX Runtime fp32": lambda: session.run(None, feed)}, repeats)
        )
    return {"config": config, "training": training, "inference": inference}


def bf16_rows(results: list[dict], instruction_set: str) -> list[str]:
    peers = [
        "grukit fp32",
        "torch.nn.GRU fp32",
        "torch.nn.GRU autocast",
        "torch.nn.LSTM fp32",
        "torch.nn.LSTM autocast",
        "ONNX Runtime fp32",
    ]
    lines = [
        f"bfloat16 (grukit under torch.autocast; GEMMs on {instruction_set}): grukit's time, "
        "then each peer's time / grukit bf16's (> 1: grukit bf16 faster). Targets: training "
        ">= 2x grukit fp32 and >= 3x torch.nn.GRU fp32 at the two large shapes, >= 1.5x "
        "grukit fp32 at the small one; inference >= 2x ONNX Runtime fp32.",
        "| config (B, T, I, H, layers) | pass | grukit bf16 | " + " | ".join(peers) + " |",
        "|---|---|---:|" + "---:|" * len(peers),
    ]
    for result in results:
        for mode in ("training", "inference"):
            times = result[mode]
            ours = times["grukit bf16"]
            cells = [f"{times[p] / ours:.2f}" if p in times else "-" for p in peers]
            lines.append(
                f"| {tuple(result['config'])} | {mode} | {format_time(ours)} | "
                + " | ".join(cells)
                + " |"
            )
    return lines


def compare_streaming(
    inputs: int, hidden: int, repeats: int, threads: int, steps: int = 2000
) -> dict:
    """Per-step latency at batch 1, one step per call, the state carried."""
    torch.manual_seed(0)
    torch_gru = torch.nn.GRU(inputs, hidden)
    cell = torch.nn.GRUCell(inputs, hidden)
    cell.load_state_dict({k[:-3]: v for k, v in torch_gru.state_dict().items()})
    stream = grukit.GRU.from_torch(torch_gru, backend="fused").eval().stream(batch_size=1)
    x_t = torch.randn(1, inputs)
    state = {"cell": torch.zeros(1, hidden), "gru": torch.zeros(1, 1, hidden)}

    def run_stream():
        for _ in range(steps):
            stream(x_t)

    def run_cell():
        with torch.no_grad():
            for _ in range(steps):
                state["cell"] = cell(x_t, state["cell"])

    def run_gru():
        with torch.no_grad():
            x = x_t[None]
            for _ in range(steps):
                _, state["gru"] = torch_gru(x, state["gru"])

    candidates = {
        "grukit Stream": run_stream,
        "torch.nn.GRUCell": run_cell,
        "torch.nn.GRU (T=1)": run_gru,
    }
    session = onnx_runtime_gru(torch_gru, threads)
    if session is not None:
        feed = {"X": x_t[None].numpy(), "sequence_lens": torch.ones(1, dtype=torch.int32).numpy()}
        h = {"initial_h": torch.zeros(1, 1, hidden).numpy()}

        def run_onnx():
            for _ in range(steps):
                h["initial_h"] = session.run(["Y_h"], {**feed, **h})[0]

        own_block = {"ONNX Runtime (T=1)": run_onnx}
    else:
        own_block = {}
    medians = {**interleaved_medians(candidates, repeats), **own_block_medians(own_block, repeats)}
    return {name: seconds / steps for name, seconds in medians.items()}


def ratio_table(title: str, times: dict[str, float], reference: str = "grukit") -> list[str]:
    lines = [f"{title}", "| | time | ratio vs grukit |", "|---|---:|---:|"]
    for name, seconds in times.items():
        lines.append(f"| {name} | {format_time(seconds)} | {seconds / times[reference]:.2f}x |")
    return lines


def format_time(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} us"


def peer_rows(results: list[dict]) -> list[str]:
    """One markdown table: a row per config, inference and training ratios peer/grukit."""
    lines = [
        "| config (B, T, I, H) | mode | grukit | torch.nn.GRU | torch.nn.LSTM | ONNX Runtime "
        "| grukit GFLOP/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for mode in ("inference", "training"):
            times = result[mode]
            ours = times["grukit"]

            def cell(name, times=times, ours=ours):
                if name not in times:
                    return "--"
                return f"{format_time(times[name])} ({times[name] / ours:.2f}x)"

            gflops, peak = result[f"{mode}_gflops"], result["peak_gflops"]
            lines.append(
                f"| {tuple(result['config'])} | {mode} | {format_time(ours)} "
                f"| {cell('torch.nn.GRU')} | {cell('torch.nn.LSTM')} | {cell('ONNX Runtime')} "
                f"| {gflops:.0f} ({gflops / peak:.0%} of {peak:.0f}) |"
            )
    return lines


def variant_rows(result: dict) -> list[str]:
    lines = [
        f"Variants at {tuple(result['config'])}, time relative to grukit `gru` (< 1: faster):",
        "| variant | inference | training |",
        "|---|---:|---:|",
    ]
    for name in result["inference"]:
        inference = result["inference"][name] / result["inference"]["gru"]
        training = result["training"][name] / result["training"]["gru"]
        lines.append(f"| {name} | {inference:.2f} | {training:.2f} |")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per candidate (default 7)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch and ONNX Runtime threads (default 2)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny shapes, few repeats: check it runs"
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument(
        "--bf16-only", action="store_true", help="only the bfloat16 table (a minute or two)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    repeats = 2 if args.smoke else args.repeats
    configs = SMOKE_CONFIGS if args.smoke else CONFIGS

    started = time.perf_counter()
    print(
        f"grukit {grukit.__version__}, torch {torch.__version__}, {args.threads} threads, "
        f"float32, median of {repeats}"
    )
    if args.bf16_only:
        results = bf16_section(args.smoke, repeats, args.threads)
    else:
        results = all_sections(args.smoke, configs, repeats, args.threads)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


def bf16_section(smoke: bool, repeats: int, threads: int) -> dict:
    """The bfloat16 table, printed; skipped, with the reason, where the fused kernels have no
    bfloat16 GEMMs."""
    instruction_set = bf16_instruction_set()
    results = []
    if instruction_set.startswith("none"):
        print(f"\nbfloat16: skipped, {instruction_set}")
    else:
        for config in [(4, 10, 8, 16, 1)] if smoke else BF16_CONFIGS:
            results.append(compare_bf16(config, repeats, threads))
        print()
        print("\n".join(bf16_rows(results, instruction_set)))
    return {"bf16": results, "bf16_instruction_set": instruction_set}


def all_sections(smoke: bool, configs, repeats: int, threads: int) -> dict:
    """Every table, printed in turn; their raw results."""
    peak = matmul_gflops(repeats, size=256 if smoke else 2048)
    print(f"large matmul: {peak:.0f} GFLOP/s\n")
    peers = []
    for config in configs:
        peers.append(compare_peers(config, repeats, threads, peak))
        print(f"  measured {config}", flush=True)
    print()
    print("\n".join(peer_rows(peers)))
    variants = compare_variants(configs[1], repeats)
    print()
    print("\n".join(variant_rows(variants)))
    regularisers = [
        compare_regularisers(config, repeats)
        for config in (configs if smoke else REGULARISER_CONFIGS)
    ]
    print()
    print("\n".join(regulariser_rows(regularisers)))
    bf16 = bf16_section(smoke, repeats, threads)
    streaming = compare_streaming(
        8 if smoke else 64,
        16 if smoke else 256,
        repeats,
        threads,
        steps=20 if smoke else 2000,
    )
    print()
    print(
        "\n".join(
            ratio_table(
                "Streaming, batch 1, one step per call, per-step latency:",
                streaming,
                "grukit Stream",
            )
        )
    )
    return {
        "peers": peers,
        "variants": variants,
        "regularisers": regularisers,
        "streaming": streaming,
        **bf16,
        "peak_gflops": peak,
    }


if __name__ == "__main__":
    main()
