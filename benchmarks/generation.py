"""Text generation speed at batch 1: tokens per second of grukit's language model against
the same weights in torch.nn.GRU, one token per call, the state carried.

    python benchmarks/generation.py              # word models (V 10k) and a character one
    python benchmarks/generation.py --smoke      # tiny shapes, to check the script runs

Each model is an embedding, a stacked GRU and a read-out to the vocabulary, tied as the lm
task ties them, with random weights (speed does not depend on their values). Candidates,
each a whole sampling loop (the model's step, softmax, a multinomial draw, the drawn id
fed back), so the figure is what a user sees:

- ``grukit TextGenerator``: ``grukit.inference.TextGenerator.sample_ids`` on the torch
  engine (``StepReadout.step``, the fused ``Stream``, then the sampling rules in float64);
- ``grukit TextGenerator, NumPy``: the same on the NumPy engine
  (``grukit.inference.numpy_engine``), the path ``grukit generate`` takes for a gru
  language model (NumPy's BLAS threads: its default, every core);
- ``grukit step + plain sampling``: ``StepReadout.step`` with the same sampling loop as
  the peer, so that the two differ only in the recurrent step;
- ``torch.nn.GRU (T=1)``: the grukit layer's weights copied into a torch.nn.GRU
  (``GRU.to_torch``), called on one step at a time under ``torch.no_grad()``, eval mode.

Every number is a median of --repeats runs of --tokens tokens; the candidates run
interleaved in one process (run 1 of each, then run 2 of each, ...), so their ratios share
the machine's state. float32, --threads threads (default 2).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
from torch import nn

import grukit
from grukit.inference.generation import TextGenerator
from grukit.inference.numpy_engine import NumpyLanguageModel
from grukit.models import StepReadout

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or by runpy
from cpu import interleaved_medians  # noqa: E402  (the timing loop of every benchmark)

# (name, vocabulary, hidden, layers)
CONFIGS = [
    ("word, PTB small", 10000, 200, 2),
    ("word, PTB medium", 10000, 650, 2),
    ("char, PTB", 50, 512, 2),
]
SMOKE_CONFIGS = [("word, tiny", 100, 16, 2), ("char, tiny", 20, 8, 1)]


def language_model(vocabulary: int, hidden: int, layers: int) -> StepReadout:
    """Embedding (V, H), a fused grukit GRU of ``layers`` x ``hidden``, read-out tied to
    the embedding: the lm task's model with its defaults."""
    embedding = nn.Embedding(vocabulary, hidden)
    recurrent = grukit.GRU(hidden, hidden, layers, backend="fused")
    model = StepReadout(recurrent, vocabulary, 0.0, embedding)
    model.readout.weight = embedding.weight
    return model.eval()


def compare(config, tokens: int, repeats: int) -> dict:
    """Seconds per token of each candidate on one model."""
    name, vocabulary, hidden, layers = config
    torch.manual_seed(0)
    model = language_model(vocabulary, hidden, layers)
    torch_gru = model.recurrent.to_torch().eval()
    symbols = [f"t{i}" for i in range(vocabulary)]
    generator = TextGenerator(model, symbols, "word")
    weights = {name: tensor.numpy() for name, tensor in model.state_dict().items()}
    numpy_model = NumpyLanguageModel(weights, {"model": "gru", "layers": layers})
    numpy_generator = TextGenerator(numpy_model, symbols, "word")
    start_id = 0

    def run_generator():
        for _ in generator.sample_ids([start_id], tokens=tokens, seed=0):
            pass

    def run_numpy():
        for _ in numpy_generator.sample_ids([start_id], tokens=tokens, seed=0):
            pass

    def run_step():
        draws = torch.Generator().manual_seed(0)
        index, state = torch.tensor([start_id]), None
        for _ in range(tokens):
            logits, state = model.step(index, state)
            index = torch.multinomial(torch.softmax(logits, -1), 1, generator=draws)[0]

    def run_torch():
        draws = torch.Generator().manual_seed(0)
        index, state = torch.tensor([start_id]), None
        with torch.no_grad():
            for _ in range(tokens):
                output, state = torch_gru(model.embedding(index)[None], state)  # (1, 1, H)
                logits = model.readout(output[0])
                index = torch.multinomial(torch.softmax(logits, -1), 1, generator=draws)[0]

    check_same_logits(model, torch_gru, numpy_model)
    candidates = {
        "grukit TextGenerator": run_generator,
        "grukit TextGenerator, NumPy": run_numpy,
        "grukit step + plain sampling": run_step,
        "torch.nn.GRU (T=1)": run_torch,
    }
    medians = interleaved_medians(candidates, repeats)
    return {
        "config": {"name": name, "vocabulary": vocabulary, "hidden": hidden, "layers": layers},
        "seconds_per_token": {key: seconds / tokens for key, seconds in medians.items()},
    }


@torch.no_grad()
def check_same_logits(
    model: StepReadout, torch_gru: nn.GRU, numpy_model: NumpyLanguageModel, steps: int = 5
) -> None:
    """The peer and the NumPy engine compute what grukit computes: the same logits over a
    few steps."""
    ids = torch.arange(steps) % model.readout.out_features
    state, torch_state, numpy_state = None, None, None
    for index in ids:
        ours, state = model.step(index[None], state)
        output, torch_state = torch_gru(model.embedding(index[None])[None], torch_state)
        torch.testing.assert_close(ours, model.readout(output[0]), rtol=1e-4, atol=1e-5)
        logits, numpy_state = numpy_model.step(int(index), numpy_state)
        torch.testing.assert_close(ours[0], torch.from_numpy(logits), rtol=1e-4, atol=1e-5)


def rows(results: list[dict]) -> list[str]:
    """A markdown table: tokens/s of each candidate and torch's time / grukit's."""
    lines = [
        "| model (V, H x L) | candidate | tokens/s | ratio torch / this (> 1: faster) |",
        "|---|---|---:|---:|",
    ]
    for result in results:
        config, times = result["config"], result["seconds_per_token"]
        shape = f"{config['vocabulary']}, {config['hidden']} x {config['layers']}"
        label = f"{config['name']} ({shape})"
        peer = times["torch.nn.GRU (T=1)"]
        for name, seconds in times.items():
            lines.append(f"| {label} | {name} | {1 / seconds:,.0f} | {peer / seconds:.2f} |")
    return lines


def cpu_name() -> str:
    """The processor's model name (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=400, help="tokens per run (default 400)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs (default 7)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, few tokens")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs, tokens, repeats = CONFIGS, args.tokens, args.repeats
    if args.smoke:
        configs, tokens, repeats = SMOKE_CONFIGS, 20, 2
    print(
        f"grukit {grukit.__version__}, torch {torch.__version__}, {args.threads} threads, "
        f"{cpu_name()}; batch 1, {tokens} tokens per run, "
        f"median of {repeats}"
    )
    results = [compare(config, tokens, repeats) for config in configs]
    print("\n".join(rows(results)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
