"""From finished sweep points to the study's answers: fits per family, comparisons, baselines.

:func:`analyse` returns the content of ``fits.json``:

- ``families.<family>.compute_law.<axis>``: ``L = a C^-alpha`` on the compute frontier of the
  model x steps grid, on each compute axis (GATr: ``dense`` nominal and ``structured`` FLOPs; the
  Transformers have one count, given under both names);
- ``families.<family>.joint_law``: ``L(N, D) = E + A N^-alpha + B D^-beta`` on the grid;
- ``families.<family>.compute_optimal.<axis>``: model size and steps against budget;
- ``families.<family>.data_law``: ``L = a D^-alpha`` over training-set sizes (the data sweep);
- ``comparison``: the loss ratio of each family to GATr at common budgets, from the compute laws;
- ``baselines``: the test MSE of predicting no motion and of contact-free (ballistic) motion.

Losses are test mean squared errors of the next-frame surface points in cm^2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noether.sims.rigid.task import RigidTask, ballistic, masked_mse
from noether.studies.scaling.fits import (
    compute_optimal,
    fit_compute_law,
    fit_cost,
    fit_data_law,
    fit_joint_law,
)
from noether.studies.scaling.plan import SweepSpec

__all__ = ["AXES", "analyse", "baselines", "budgets_for", "data_points", "grid_points"]

AXES = ("dense", "structured")


def grid_points(results: list[dict], spec: SweepSpec, family: str) -> list[dict]:
    """Points of the model x steps grid of ``family``."""
    sizes, steps = set(spec.sizes(family)), set(spec.steps)
    return [
        r
        for r in results
        if r["family"] == family
        and r["scenes"] == spec.grid_scenes
        and r["size"] in sizes
        and r["steps"] in steps
    ]


def data_points(results: list[dict], spec: SweepSpec, family: str) -> list[dict]:
    """Points of the data sweep of ``family``."""
    steps = spec.data_steps or max(spec.steps)
    return [
        r
        for r in results
        if r["family"] == family
        and r["size"] == spec.data_size
        and r["steps"] == steps
        and r["scenes"] in set(spec.data_scenes)
    ]


def budgets_for(results: list[dict], decades_beyond: int = 2) -> np.ndarray:
    """Budgets from the smallest compute of the sweep to ``decades_beyond`` decades past the
    largest, one per decade."""
    compute = [v for r in results for v in r["compute"].values()]
    low, high = np.floor(np.log10(min(compute))), np.ceil(np.log10(max(compute)))
    return 10.0 ** np.arange(low, high + decades_beyond + 1)


def _column(points: list[dict], key: str, sub: str | None = None) -> np.ndarray:
    return np.array([p[key][sub] if sub else p[key] for p in points], dtype=float)


def _safe(fit, *args, **kwargs) -> dict:
    try:
        return fit(*args, **kwargs)
    except (ValueError, RuntimeError) as error:
        return {"error": str(error)}


def analyse(
    results: list[dict],
    spec: SweepSpec,
    *,
    n_boot: int = 500,
    seed: int = 0,
    base: dict | None = None,
) -> dict:
    """Fit every law of every family (see the module docstring)."""
    budgets = budgets_for(results)
    families: dict[str, dict] = {}
    for family in spec.families:
        grid, data = grid_points(results, spec, family), data_points(results, spec, family)
        entry: dict = {"grid_runs": len(grid), "data_runs": len(data)}
        if grid:
            loss = _column(grid, "test_mse")
            entry["best_test_mse"] = float(loss.min())
            entry["compute_law"] = {
                axis: _safe(
                    fit_compute_law, _column(grid, "compute", axis), loss, n_boot=n_boot, seed=seed
                )
                for axis in AXES
            }
            joint = _safe(
                fit_joint_law,
                _column(grid, "params"),
                _column(grid, "samples"),
                loss,
                n_boot=max(50, n_boot // 3),
                seed=seed,
            )
            entry["joint_law"] = joint
            entry["compute_optimal"] = {}
            for axis in AXES:
                sizes = {r["size"]: r for r in grid}
                cost = fit_cost(
                    np.array([r["params"] for r in sizes.values()], float),
                    np.array([r["flops_per_sample"][axis] for r in sizes.values()], float),
                )
                entry["compute_optimal"][axis] = (
                    _safe(compute_optimal, joint, cost, budgets, batch=spec.batch_size)
                    if "error" not in joint
                    else {"error": joint["error"]}
                )
        if data:
            entry["data_law"] = _safe(
                fit_data_law,
                _column(data, "scenes"),
                _column(data, "test_mse"),
                n_boot=n_boot,
                seed=seed,
            )
            entry["data"] = [
                {
                    "scenes": r["scenes"],
                    "epochs": r["epochs"],
                    "test_mse": r["test_mse"],
                    "test_mse_moved": r["test_mse_moved"],
                }
                for r in sorted(data, key=lambda r: r["scenes"])
            ]
        families[family] = entry
    return {
        "loss": "test MSE of the next-frame surface points, cm^2",
        "families": families,
        "comparison": _comparison(families, budgets),
        "baselines": base or {},
        "budgets": budgets.tolist(),
        "n_points": len(results),
    }


def _comparison(families: dict, budgets: np.ndarray) -> dict:
    """``L_family(C) / L_gatr(C)`` from the compute laws, at each budget and axis."""
    out: dict = {}
    gatr = families.get("gatr", {}).get("compute_law", {})
    for family, entry in families.items():
        if family == "gatr" or "compute_law" not in entry:
            continue
        for axis in AXES:
            g, f = gatr.get(axis, {}), entry["compute_law"].get("structured", {})
            if "a" not in g or "a" not in f:
                continue
            law = lambda fit: fit["a"]["value"] * budgets ** -fit["alpha"]["value"]  # noqa: E731
            out.setdefault(family, {})[f"vs_gatr_{axis}"] = (law(f) / law(g)).tolist()
    return out


def baselines(data: Path, spec: SweepSpec) -> dict[str, float]:
    """Test MSE (cm^2) of predicting no motion and of contact-free ballistic motion."""
    import torch

    task = RigidTask(
        str(data), train_scenes=1, val_scenes=spec.val_scenes, test_scenes=spec.test_scenes
    )
    test = task.test_set()
    batch = torch.utils.data.default_collate([test[i] for i in range(len(test))])
    cm2 = (100.0 * task.length_scale) ** 2
    return {
        "no_motion": float(masked_mse(batch["points"], batch["target"], batch["mask"])) * cm2,
        "ballistic": float(masked_mse(ballistic(batch), batch["target"], batch["mask"])) * cm2,
    }
