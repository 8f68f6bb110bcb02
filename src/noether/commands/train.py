"""`noether train CONFIG.yaml [--section.key=value ...] [--resume RUN_DIR]`: train a model on a task.

``--init-from RUN`` starts from the weights of a trained run and ``--freeze PREFIXES`` keeps some
of them fixed (fine-tuning, the config's ``finetune:`` section; docs/training.md).

Every ``--section.key=value`` that is not an option of this command overrides the config file.
Run it under ``torchrun --nproc_per_node=N`` or ``srun`` for data-parallel training.
"""

from __future__ import annotations

import argparse
import json
import sys

from noether.train.checkpoints import CorruptCheckpointError
from noether.train.config import ConfigError
from noether.train.distributed import detect_launch, is_first_process
from noether.train.run import train
from noether.train.signals import RunInterrupted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "noether train [CONFIG.yaml] [--section.key=VALUE ...] [--resume RUN_DIR] "
        "[--init-from RUN] [--freeze PREFIXES]"
    )
    parser.add_argument("config", nargs="?", help="YAML config (optional with --resume)")
    parser.add_argument(
        "--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint, exactly"
    )
    parser.add_argument(
        "--init-from",
        metavar="RUN",
        help="start from the weights of this trained run (folder or .ckpt): fine-tuning; the "
        "same as --finetune.init_from=RUN",
    )
    parser.add_argument(
        "--freeze",
        metavar="PREFIXES",
        help="comma-separated parameter-name prefixes kept fixed (embedding,layers.0); the same "
        "as --finetune.freeze=[...]",
    )
    parser.epilog = (
        "Any --section.key=value overrides the config file, e.g. --optim.lr=3e-4 "
        "--trainer.max_epochs=50. Exit status: 0 finished; 2 refused, nothing written; 143 or "
        "130 stopped by SIGTERM or SIGINT after writing last.ckpt (continue with --resume "
        "RUN_DIR). See docs/training.md."
    )
    parse_known = parser.parse_known_args

    # Overrides are open-ended (--model.<any constructor argument>=...), so the tokens argparse
    # does not know are collected here instead of being rejected.
    def parse_known_args(args=None, namespace=None):
        namespace, extra = parse_known(args, namespace)
        namespace.overrides = list(extra)
        return namespace, []

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def main(args: argparse.Namespace) -> int:
    """0 when the run finished; 2 when it was refused (nothing written); 128 + the signal
    number when SIGTERM (143) or SIGINT (130) stopped it (docs/training.md)."""
    overrides = list(getattr(args, "overrides", []))
    # JSON is YAML: the path and the names stay strings whatever they look like
    if getattr(args, "init_from", None) is not None:
        overrides.append(f"--finetune.init_from={json.dumps(args.init_from)}")
    if getattr(args, "freeze", None) is not None:
        names = [name.strip() for name in args.freeze.split(",") if name.strip()]
        overrides.append(f"--finetune.freeze={json.dumps(names)}")
    try:
        train(args.config, overrides, resume=args.resume)
    except (ConfigError, CorruptCheckpointError) as error:
        print(f"noether train: error: {error}", file=sys.stderr)
        return 2
    except RunInterrupted as interrupted:
        if is_first_process(detect_launch()):
            print(f"noether train: {interrupted.message()}", file=sys.stderr, flush=True)
        return interrupted.exit_status
    return 0
