"""`noether evaluate RUN_OR_CHECKPOINT`: test-set errors of a trained model, as a table and plots."""

from __future__ import annotations

import argparse
import sys

from noether.train.config import ConfigError
from noether.train.evaluate import evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .ckpt file")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="default: test")
    parser.add_argument(
        "--checkpoint",
        choices=("best", "last"),
        default="best",
        help="which checkpoint of a run folder (default: best, else last)",
    )
    parser.add_argument("--out", help="folder for metrics and plots (default: RUN/evaluation)")
    parser.add_argument("--no-plots", action="store_true", help="skip the parity plots")


def main(args: argparse.Namespace) -> int:
    try:
        evaluate(
            args.target,
            split=args.split,
            prefer=f"{args.checkpoint}.ckpt",
            out=args.out,
            plots=not args.no_plots,
        )
    except (ConfigError, FileNotFoundError, ValueError) as error:
        print(f"noether evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0
