"""``evaluate``: a checkpoint's errors on the test (or validation) split, as a table and plots."""

from __future__ import annotations

import copy
import json
import math
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import lightning as L
import torch

from noether.core import registry
from noether.core.io import atomic_write_json
from noether.core.task import MustExist
from noether.core.validation import signature_fields
from noether.train.checkpoints import BEST, LAST, find_checkpoint, load_checkpoint
from noether.train.config import build, load_config
from noether.train.console import quiet_lightning, want_progress_bar
from noether.train.datamodule import load_splits, make_datamodule
from noether.train.module import TrainingModule
from noether.train.plots import plot_learning_curve, plot_parity
from noether.train.run import resolve_precision
from noether.train.rundir import CURVE, META, METRICS, SPLITS


def run_folder_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to (``<run>/checkpoints/x.ckpt``) or its folder."""
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


def _names_a_file(annotation: Any) -> bool:
    """Whether a task option's annotation is a path that must exist (``DataPath``)."""
    if typing.get_origin(annotation) is Annotated:
        args = typing.get_args(annotation)
        return any(isinstance(a, MustExist) for a in args[1:]) or _names_a_file(args[0])
    return any(_names_a_file(a) for a in typing.get_args(annotation))


def locate_data(config: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """``config`` (a run's resolved config) with each relative data path of its task (the task's
    ``DataPath`` options: ``task.path``, ``task.splits``) that does not exist from the current
    folder made absolute against the folder the run was trained in (``meta.json``'s ``cwd``),
    where it exists there. So a run evaluates from any folder while its data stays where it was;
    data that moved is still a ConfigError naming the key and the path."""
    config = copy.deepcopy(dict(config))
    task = config.get("task")
    meta = run_dir / META
    if not isinstance(task, dict) or not meta.is_file():
        return config
    origin = json.loads(meta.read_text()).get("cwd")
    if origin is None:  # a run trained before the folder was recorded
        return config
    try:
        fields, _ = signature_fields(registry.lookup("task", task.get("name")))
    except KeyError:
        return config  # an unknown task is load_config's to report
    for field in fields:
        value = task.get(field.name)
        if not (_names_a_file(field.annotation) and isinstance(value, str)):
            continue
        path = Path(value).expanduser()
        if not path.is_absolute() and not path.exists() and (Path(origin) / path).exists():
            task[field.name] = str(Path(origin) / path)
    return config


def format_table(results: dict[str, float], units: dict[str, str]) -> str:
    """Rows ``quantity  MAE  RMSE  unit`` under the loss."""
    lines = [
        f"{'quantity':<16}{'MAE':>12}{'RMSE':>12}  unit",
        f"{'loss':<16}{results['loss']:>12.4g}",
    ]
    names = sorted({k.rsplit("_", 1)[0] for k in results if k.endswith(("_mae", "_rmse"))})
    for name in names:
        mae, rmse = results.get(f"{name}_mae", math.nan), results.get(f"{name}_rmse", math.nan)
        lines.append(f"{name:<16}{mae:>12.4g}{rmse:>12.4g}  {units.get(name, '')}")
    return "\n".join(lines)


def convert_results(
    results: dict[str, Any],
    units: dict[str, str],
    conversions: Mapping[str, tuple[str, float, str]],
    task_name: str,
) -> tuple[dict[str, Any], dict[str, str], dict[str, float]]:
    """``results`` and ``units`` with each ``quantity: (from, factor, to)`` of ``conversions``
    applied (``<q>_mae`` and ``<q>_rmse`` times ``factor``, the unit ``to``), and the factors.

    Raises:
        ValueError: a quantity the task does not report, or reports in another unit than ``from``.
    """
    missing = [q for q in conversions if q not in units]
    if missing:
        reported = ", ".join(f"{q} ({u})" if u else q for q, u in units.items()) or "only the loss"
        raise ValueError(
            f"this run's task ({task_name}) reports no {' or '.join(missing)}, so it has no unit "
            f"to change (it reports {reported})"
        )
    results, units, factors = dict(results), dict(units), {}
    for quantity, (source, factor, target) in conversions.items():
        if units[quantity] != source:
            raise ValueError(
                f"this run's task ({task_name}) reports {quantity} in {units[quantity]!r}, "
                f"not {source!r}: cannot convert it to {target}"
            )
        for stat in ("mae", "rmse"):
            if f"{quantity}_{stat}" in results:
                results[f"{quantity}_{stat}"] = results[f"{quantity}_{stat}"] * factor
        units[quantity], factors[quantity] = target, factor
    return results, units, factors


def evaluate(
    target: str | Path,
    *,
    split: Literal["test", "val"] = "test",
    prefer: str = BEST,
    out: str | Path | None = None,
    plots: bool = True,
    verbose: bool = True,
    units: Mapping[str, tuple[str, float, str]] | None = None,
) -> dict[str, Any]:
    """Evaluate a run folder (its ``best.ckpt``, else ``last.ckpt``) or a checkpoint file.

    Writes ``<out>/<split>_metrics.json`` and, for each quantity the task compares,
    ``<out>/<split>_parity_<quantity>.png``; ``out`` defaults to ``<run folder>/evaluation``.

    ``units`` (``{quantity: (from, factor, to)}``, e.g. from
    :func:`noether.atoms.units.report_conversions`) reports a quantity in another unit: its
    errors and parity plots are multiplied by ``factor``; a quantity the task does not report in
    ``from`` is refused with ``ValueError``.

    Returns:
        ``{"loss", "<q>_mae", "<q>_rmse", "units", "samples", "checkpoint", "epoch",
        "global_step"}``; ``units`` maps each quantity to the unit of its errors (``loss`` has
        none); ``epoch`` is the epoch the weights come from counted from 1, the number the
        training console printed for it (``epoch 55/55``).
    """
    quiet_lightning()
    path = find_checkpoint(target, prefer=prefer)
    checkpoint = load_checkpoint(path)
    run_dir = run_folder_of(path)
    config = load_config(locate_data(checkpoint["noether"]["config"], run_dir))
    out = Path(out) if out is not None else run_dir / "evaluation"

    task = build(config.task, "task")
    model = build(config.model, "model")
    # refused before any data is read
    convert_results({}, dict(task.units), units or {}, config.task.name)
    module = TrainingModule(model, task, config)
    splits = load_splits(run_dir / SPLITS) if (run_dir / SPLITS).is_file() else None
    datamodule = make_datamodule(task, config.data, config.seed, splits)
    own = getattr(datamodule, "splits", None)
    if own is not None and len(own[split]) == 0:
        raise ValueError(f"the {split} split of this run is empty: nothing to evaluate")
    module.collect_parity = plots

    trainer = L.Trainer(
        accelerator=config.trainer.accelerator,
        devices=1,
        num_nodes=1,
        precision=resolve_precision(config.trainer.precision, config.trainer.accelerator),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=want_progress_bar("auto"),
        enable_model_summary=False,
        inference_mode=False,
        default_root_dir=str(run_dir),
    )
    # in the run's precision first, so that float64 weights load without rounding to float32
    module = trainer.precision_plugin.convert_module(module)
    module.load_state_dict(checkpoint["state_dict"])
    if split == "test":
        trainer.test(module, datamodule=datamodule, verbose=False)
    else:
        trainer.validate(module, datamodule=datamodule, verbose=False)
    errors, reported, factors = convert_results(
        module.results[split], dict(task.units), units or {}, config.task.name
    )
    results: dict[str, Any] = dict(errors)
    results.update(
        units={name: reported[name] for name in sorted(reported) if reported[name]},
        samples=module.evaluated_samples,
        checkpoint=str(path),
        epoch=int(checkpoint.get("epoch", -1)) + 1,  # counted from 1, as the training console
        global_step=int(checkpoint.get("global_step", -1)),
    )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"{split}_metrics.json", results)
    figures = []
    if plots:
        for name, pairs in module.parity.items():
            factor = factors.get(name, 1.0)
            pred = factor * torch.cat([p.reshape(-1) for p, _ in pairs]).numpy()
            ref = factor * torch.cat([r.reshape(-1) for _, r in pairs]).numpy()
            figures.append(
                plot_parity(
                    pred, ref, name, reported.get(name, ""), out / f"{split}_parity_{name}.png"
                )
            )
        if (run_dir / METRICS).is_file():
            plot_learning_curve(run_dir / METRICS, run_dir / CURVE)
    results["figures"] = [str(f) for f in figures]
    if verbose:
        kind = "best" if path.name == BEST else "last" if path.name == LAST else "checkpoint"
        print(
            f"{split} split of {run_dir}: {results['samples']} samples, {kind} weights "
            f"(epoch {results['epoch']}, step {results['global_step']})"
        )
        print(format_table(errors, reported))
        for figure in figures:
            print(f"parity plot: {figure}")
    return results
