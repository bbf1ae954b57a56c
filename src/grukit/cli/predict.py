"""Predict on new data with a checkpoint: the model and its preprocessing (scaler,
vocabulary, class names) come from the checkpoint alone, e.g.

    grukit predict runs/mine-gru-64/best --data new.npz        # sequences: .npz or .csv
    grukit predict runs/tweets-gru-128/best --data tweets.txt  # one text per line
    grukit predict runs/sunspots-w20-a1-gru-64/best --data recent.csv  # a column of values
    grukit predict runs/sunspots-w20-a1-gru-64/best             # says what --data it takes

Sequence files have the layout of ``grukit train --task classify`` (labels optional).
Prints CSV (or writes it to --out): per sequence or text its index, the predicted label
and its probability; for a forecaster, each step ahead and its forecast. The checkpoint's
kind chooses the predictor (``grukit.inference.registry``); a run folder stands for its
best checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint folder (a run's best/ or last/)")
    parser.add_argument("--data", help="the file to predict on (without it: what it takes)")
    parser.add_argument("--out", help="write the CSV here (default: print it)")


def run(args: argparse.Namespace) -> int:
    from grukit.inference import load

    predictor = load(args.checkpoint, command="predict")
    if args.data is None:
        print(predictor.wants())
        return 0
    path = Path(args.data)
    if not path.is_file():
        raise FileNotFoundError(f"data: {str(path)!r} is not a file")
    header, rows = predictor.rows(predictor.predict(predictor.read_inputs(path)))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if args.out:
        Path(args.out).write_text(buffer.getvalue())
        print(f"predictions: {args.out}", file=sys.stderr)
    else:
        print(buffer.getvalue(), end="")
    return 0
