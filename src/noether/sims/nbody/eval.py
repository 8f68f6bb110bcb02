"""A trained n-body model's errors on every test set and its equivariance error.

``evaluate_sets`` reports the mean squared and absolute error of the final positions (over
systems, bodies and coordinates) on ``test``, ``test_rotated``, ``test_translated`` and
``test_more_bodies``. ``equivariance_errors`` moves test systems by random rotations, reflections
and translations and reports how far the model's predictions are from the moved predictions.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import Tensor, nn

from noether.sims.nbody.task import TEST_SETS, horizon_of, load_systems, predict
from noether.testing import check_o3, check_translation

__all__ = ["baseline_errors", "equivariance_errors", "evaluate_sets"]


@torch.no_grad()
def evaluate_sets(
    model: nn.Module,
    data_dir: str | Path,
    sets: tuple[str, ...] = TEST_SETS,
    *,
    batch_size: int = 500,
) -> dict[str, dict[str, float]]:
    """``{set: {"mse", "mae", "rmse", "systems"}}`` of ``model`` (evaluated in eval mode)."""
    horizon = horizon_of(data_dir)
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    results = {}
    try:
        for name in sets:
            arrays = {k: v.to(dtype) for k, v in load_systems(data_dir, name).items()}
            n = len(arrays["masses"])
            sq, ab = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
            for start in range(0, n, batch_size):
                batch = {k: v[start : start + batch_size] for k, v in arrays.items()}
                m, x, v = batch["masses"], batch["x_initial"], batch["v_initial"]
                pred = predict(model, m, x, v, horizon)
                err = (pred - batch["x_final"]).double()
                sq += (err**2).sum()
                ab += err.abs().sum()
            count = arrays["x_final"].numel()
            mse = float(sq / count)
            results[name] = {"mse": mse, "mae": float(ab / count), "rmse": mse**0.5, "systems": n}
    finally:
        model.train(was_training)
    return results


def baseline_errors(
    data_dir: str | Path, sets: tuple[str, ...] = TEST_SETS
) -> dict[str, dict[str, dict[str, float]]]:
    """Errors of two physical references on every test set, ``{name: {set: {"mse", "mae"}}}``:
    ``"no motion"`` predicts ``x(T) = x(0)``, ``"constant velocity"`` predicts
    ``x(T) = x(0) + T v(0)``, with ``T`` from the dataset's ``meta.json``."""
    horizon = horizon_of(data_dir)
    out: dict[str, dict[str, dict[str, float]]] = {"no motion": {}, "constant velocity": {}}
    for name in sets:
        arrays = load_systems(data_dir, name)
        x0, v0, x1 = (arrays[k].double() for k in ("x_initial", "v_initial", "x_final"))
        for label, guess in (("no motion", x0), ("constant velocity", x0 + horizon * v0)):
            err = guess - x1
            out[label][name] = {"mse": float((err**2).mean()), "mae": float(err.abs().mean())}
    return out


def equivariance_errors(
    model: nn.Module,
    batch: dict[str, Tensor],
    horizon: float = 1.0,
    *,
    n_samples: int = 4,
    seed: int = 0,
) -> dict[str, float]:
    """Largest change of the predicted positions under random group elements, in float64.

    Returns ``{"rotation", "reflection", "translation"}``: errors under SO(3) about the origin,
    improper orthogonal maps, and translations of scale 10 (in length units). An exactly
    equivariant model gives round-off (about 1e-12); a model that has learned the symmetry only
    approximately gives its approximation error.
    """
    model64 = copy.deepcopy(model).double().eval()
    inputs = tuple(batch[k].double() for k in ("masses", "x_initial", "v_initial"))

    @torch.no_grad()
    def fn(m: Tensor, x: Tensor, v: Tensor) -> Tensor:
        return predict(model64, m, x, v, horizon)

    actions = (("scalar", "position", "vector"), ("position",))
    kw = {"n_samples": n_samples, "seed": seed}
    return {
        "rotation": check_o3(fn, inputs, *actions, det=1, **kw),
        "reflection": check_o3(fn, inputs, *actions, det=-1, **kw),
        "translation": check_translation(fn, inputs, *actions, **kw),
    }
