"""Reproduce a published comparison and put our numbers beside the paper's.

    grukit reproduce chung2014 [--datasets jsb,nottingham] [--quick] [--all-variants]

chung2014: Chung, Gulcehre, Cho & Bengio (2014), Table 2 — tanh RNN, LSTM and GRU of about
20K recurrent parameters on polyphonic music, NLL per time step in nats
(``grukit.experiments.chung2014`` says how). ``--quick`` trains 60 epochs at most with
Adam (about a minute on JSB): the ranking forms, the final numbers do not.
Writes report.md (the table and the learning curves) into --out. Run again, it reuses the
finished runs in --out and resumes interrupted ones (``--fresh`` retrains them all).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paper", choices=["chung2014"], help="the comparison to reproduce")
    parser.add_argument(
        "--datasets",
        default="jsb",
        help="comma-separated: jsb, nottingham, musedata, pianomidi (default: jsb)",
    )
    parser.add_argument(
        "--data-dir", help="folder with the .mat files (needed for musedata, pianomidi)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few epochs only: checks the pipeline in minutes"
    )
    parser.add_argument(
        "--all-variants", action="store_true", help="also every grukit variant at the same budget"
    )
    parser.add_argument(
        "--out",
        help="report folder (default: runs/chung2014, or runs/chung2014-quick with --quick)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="retrain every model; without it finished runs in --out are reused and "
        "interrupted ones resumed",
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: 0)")
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="only the first N pieces of each split (default: 0 = all)",
    )


def run(args: argparse.Namespace) -> int:
    from grukit.experiments.chung2014 import Chung2014, reproduce
    from grukit.extras import require_extra

    require_extra("train", "reproducing a paper")
    options = Chung2014(
        datasets=tuple(name.strip() for name in args.datasets.split(",") if name.strip()),
        out=args.out or ("runs/chung2014-quick" if args.quick else "runs/chung2014"),
        quick=args.quick,
        all_variants=args.all_variants,
        fresh=args.fresh,
        seed=args.seed,
        limit=args.limit,
        data_dir=args.data_dir,
    )
    print(f"report: {reproduce(options)}")
    return 0
