"""`noether evaluate RUN_OR_CHECKPOINT`: test-set errors of a trained model, as a table and plots."""

from __future__ import annotations

import argparse
import sys

from noether.atoms.units import (
    REPORT_ENERGY_UNITS,
    REPORT_FORCE_UNITS,
    report_conversions,
    report_unit,
)
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
    parser.add_argument(
        "--energy-unit",
        metavar="UNIT",
        help=f"atomistic runs: energy errors in UNIT, one of {', '.join(REPORT_ENERGY_UNITS)} "
        "(default: meV); forces follow in UNIT/Å unless --force-unit says otherwise",
    )
    parser.add_argument(
        "--force-unit",
        metavar="UNIT",
        help=f"atomistic runs: force errors in UNIT, one of {', '.join(REPORT_FORCE_UNITS)} "
        "(default: the energy unit per Å)",
    )


def unit_conversions(
    energy_unit: str | None, force_unit: str | None
) -> dict[str, tuple[str, float, str]] | None:
    """The conversions ``--energy-unit`` and ``--force-unit`` ask for (None: neither given).

    Raises:
        ValueError: ``--energy-unit 'kcal': accepted: meV, eV, kcal/mol, kJ/mol``.
    """
    if energy_unit is None and force_unit is None:
        return None
    energy = report_unit(energy_unit or "meV", REPORT_ENERGY_UNITS)
    if energy is None:
        raise ValueError(
            f"--energy-unit {energy_unit!r}: accepted: {', '.join(REPORT_ENERGY_UNITS)}"
        )
    forces = report_unit(force_unit or f"{energy}/Å", REPORT_FORCE_UNITS)
    if forces is None:
        raise ValueError(f"--force-unit {force_unit!r}: accepted: {', '.join(REPORT_FORCE_UNITS)}")
    return report_conversions(energy, forces)


def main(args: argparse.Namespace) -> int:
    try:
        evaluate(
            args.target,
            split=args.split,
            prefer=f"{args.checkpoint}.ckpt",
            out=args.out,
            plots=not args.no_plots,
            units=unit_conversions(args.energy_unit, args.force_unit),
        )
    except (ConfigError, FileNotFoundError, ValueError) as error:
        print(f"noether evaluate: error: {error}", file=sys.stderr)
        return 2
    return 0
