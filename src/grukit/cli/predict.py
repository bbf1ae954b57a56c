"""Predict on new data with a checkpoint: the model and its preprocessing (scaler,
vocabulary, class names) come from the checkpoint alone, e.g.

    grukit predict runs/mine-gru-64/best --data new.npz        # sequences: .npz or .csv
    grukit predict runs/tweets-gru-128/best --data tweets.txt  # one text per line
    grukit predict runs/sunspots-w20-a1-gru-64/best --data recent.csv  # a column of values

Sequence files have the layout of ``grukit train --task classify`` (labels optional).
Prints CSV (or writes it to --out): per sequence or text its index, the predicted label
and its probability; for a forecaster, each step ahead and its forecast.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint folder (a run's best/ or last/)")
    parser.add_argument("--data", required=True, help="the file to predict on")
    parser.add_argument("--out", help="write the CSV here (default: print it)")


def read_texts(path: Path) -> list[str]:
    """One text per line of a .txt file, or a .csv's 'text' column."""
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "text" not in rows[0]:
            raise ValueError(f"data: {path.name!r} has no 'text' column")
        return [row["text"] for row in rows]
    return [line for line in path.read_text().splitlines() if line.strip()]


def read_values(path: Path) -> list[float]:
    """A column of numbers: one per line, or a .csv's 'value' column (else its last one)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if path.suffix == ".csv" and lines:
        header = next(csv.reader([lines[0]]))
        column = header.index("value") if "value" in header else len(header) - 1
        cells = [next(csv.reader([line]))[column] for line in lines[1:]]
    else:
        cells = lines
    try:
        return [float(cell) for cell in cells]
    except ValueError as error:
        raise ValueError(
            f"data: {path.name!r} holds a value that is not a number ({error})"
        ) from None


def run(args: argparse.Namespace) -> int:
    from grukit.data.sequences import load_sequence_file
    from grukit.inference import load

    predictor = load(args.checkpoint)
    path = Path(args.data)
    if not path.is_file():
        raise FileNotFoundError(f"data: {str(path)!r} is not a file")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if predictor.kind == "series":
        forecast = predictor.predict(read_values(path))["forecast"]
        writer.writerow(["step", "forecast"])
        writer.writerows([k + 1, f"{value:.6g}"] for k, value in enumerate(forecast))
    else:
        if predictor.kind == "sequences":
            inputs = load_sequence_file(path, labelled=False).sequences
        else:
            inputs = read_texts(path)
        predicted = predictor.predict(inputs)
        writer.writerow(["index", "label", "probability"])
        for index, (label, cls) in enumerate(zip(predicted["label"], predicted["class"])):
            writer.writerow([index, label, f"{predicted['probabilities'][index, cls]:.4f}"])
    if args.out:
        Path(args.out).write_text(buffer.getvalue())
        print(f"predictions: {args.out}", file=sys.stderr)
    else:
        print(buffer.getvalue(), end="")
    return 0
