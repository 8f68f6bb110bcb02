"""Runs the SLMC study of a :class:`~noether.studies.slmc.plan.SLMCPlan` (Nagai & Tomiya).

Runs the exact reference Metropolis, fits effective models with 0 (linear) to ``max_layers``
attention layers on its samples (with ``rounds`` rounds of the self-learning loop; the model with
``l`` layers starts from the trained ``l - 1`` layer model plus an identity layer), runs SLMC with
each, and scans the temperature for the magnetisation from SLMC and from the reference. Writes
``table.md``, ``results.json``, four PNG plots (:mod:`noether.studies.slmc.report`) and the model
checkpoints to ``plan.out``. ``noether slmc`` (:mod:`noether.commands.slmc`) is its command.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path

import torch

from noether.core.progress import Progress
from noether.lattice.attention import EffectiveModel
from noether.lattice.loop import self_learning
from noether.lattice.study import reference_chain, save_effective_model, split_data, summarise
from noether.lattice.training import mse
from noether.studies.slmc.plan import SLMCPlan
from noether.studies.slmc.report import write_report

__all__ = ["run"]


def _scaled(n: int, scale: float) -> int:
    return max(round(n * scale), 2)


def run(
    plan: SLMCPlan, recorded_args: dict[str, str] | None = None, *, progress: bool = True
) -> str:
    """Run the whole study and write its report; returns the text of ``table.md``.
    ``progress``: show the progress of each chain (:class:`~noether.core.progress.Progress`).

    ``recorded_args`` are the options stored in ``results.json`` (the plan's fields as strings
    if None). Raises ``ValueError`` for a bad plan before any sampling (:meth:`SLMCPlan.check`).
    """
    model, scan = plan.check()
    if recorded_args is None:
        recorded_args = {f.name: str(getattr(plan, f.name)) for f in dataclasses.fields(plan)}
    torch.set_num_threads(plan.threads)
    torch.manual_seed(plan.seed)
    start = time.perf_counter()
    out = Path(plan.out)
    out.mkdir(parents=True, exist_ok=True)
    n = model.n_sites
    s = plan.scale
    ref_burn, ref_sweeps = _scaled(plan.ref_sweeps // 3, s), _scaled(plan.ref_sweeps, s)
    train_steps, slmc_steps = _scaled(plan.train_steps, s), _scaled(plan.slmc_steps, s)
    slmc_burn = _scaled(20, s)
    print(f"noether slmc: {model}; {plan.chains} chains, models 0..{plan.max_layers} layers")

    ref_sampler, ref_record = reference_chain(
        model, plan.chains, ref_burn, ref_sweeps, plan.seed, f"reference T={model.T:g}",
        progress=progress,
    )  # fmt: skip
    reference = summarise(ref_record, n)
    data, score = split_data(ref_record, n, plan.seed)
    print(
        f"  reference: <|m|> = {reference['m']:.4f} ± {reference['m_err']:.4f}, "
        f"tau_int(|m|) = {reference['tau_m_ed']:.0f} EDs; {len(data)} labelled configurations"
    )

    rows, models = [], {}
    for layers in range(plan.max_layers + 1):
        if layers == 0:
            effective = EffectiveModel(model.lattice, 0, plan.heads, dtype=torch.float32)
        else:  # progressive growth: start from the previous model plus an identity layer
            effective = models[layers - 1].grown()
        total = plan.rounds * (slmc_burn + train_steps * (layers > 0)) + slmc_steps
        total += (plan.rounds - 1) * (slmc_steps // 3)
        with Progress(
            total, desc=f"{layers} layers", unit="step", enabled=progress, mininterval=10
        ) as bar:
            loop = self_learning(
                model, effective, data, ref_sampler.spins, rounds=plan.rounds,
                train_steps=train_steps, slmc_steps=slmc_steps, explore_steps=slmc_steps // 3,
                burn_in=slmc_burn,
                n_inner=plan.n_inner, seed=plan.seed + layers, progress=bar.update,
            )  # fmt: skip
        last = loop.rounds[-1]
        # every model is scored on the same held-out reference chains (exact draws of the target)
        test_mse = mse(effective, *score)
        row = {
            "layers": layers,
            "parameters": effective.n_parameters(),
            "test_mse": test_mse,
            "train_mse": last.fit.train_mse,
            "loop_test_mse": last.fit.test_mse,
            "beta_rmse": model.beta * math.sqrt(test_mse),
            "predicted_acceptance": math.erfc(model.beta * math.sqrt(test_mse) / 2),
            "training_configurations": last.n_data,
            "inner_seconds": loop.sampler.inner_seconds,
            "exact_seconds": loop.sampler.exact_seconds,
            **summarise(last.record, n),
        }
        rows.append(row)
        models[layers] = effective
        save_effective_model(effective, model, out / f"model-{layers}-layers.pt")
        print(
            f"  {layers} layers: P={row['parameters']}, test MSE {row['test_mse']:.3e}, "
            f"acceptance {row['acceptance']:.3f} ± {row['acceptance_err']:.3f}, "
            f"tau_int(|m|) {row['tau_m_ed']:.1f} EDs"
        )

    deepest = models[plan.max_layers]
    main_row = rows[-1]
    scan_rows = [{
        "T": model.T, "reference_m": reference["m"], "reference_m_err": reference["m_err"],
        "slmc_m": main_row["m"], "slmc_m_err": main_row["m_err"],
        "slmc_acceptance": main_row["acceptance"],
        "slmc_model": f"{plan.max_layers} layers",
    }]  # fmt: skip
    for i, T in enumerate(scan):
        at_t = model.with_temperature(T)
        sampler, record = reference_chain(
            at_t, plan.chains, _scaled(plan.scan_sweeps // 3, s), _scaled(plan.scan_sweeps, s),
            plan.seed + 1000 + i, f"reference T={T:g}", progress=progress,
        )  # fmt: skip
        ref_t = summarise(record, n)
        effective = copy.deepcopy(deepest)
        scan_steps = _scaled(plan.scan_sweeps, s)
        with Progress(
            train_steps // 2 + slmc_burn + scan_steps,
            desc=f"SLMC T={T:g}",
            enabled=progress,
            mininterval=10,
        ) as bar:
            loop = self_learning(
                at_t, effective, split_data(record, n, plan.seed + i)[0], sampler.spins, rounds=1,
                train_steps=train_steps // 2, slmc_steps=scan_steps, burn_in=slmc_burn,
                n_inner=plan.n_inner, seed=plan.seed + 2000 + i, progress=bar.update,
            )  # fmt: skip
        slmc_t = summarise(loop.rounds[-1].record, n)
        scan_rows.append({
            "T": T, "reference_m": ref_t["m"], "reference_m_err": ref_t["m_err"],
            "slmc_m": slmc_t["m"], "slmc_m_err": slmc_t["m_err"],
            "slmc_acceptance": slmc_t["acceptance"], "slmc_model": f"{plan.max_layers} layers",
        })  # fmt: skip
        print(
            f"  T={T:g}: reference <|m|> {ref_t['m']:.4f} ± {ref_t['m_err']:.4f}, "
            f"SLMC {slmc_t['m']:.4f} ± {slmc_t['m_err']:.4f} (acceptance "
            f"{slmc_t['acceptance']:.3f})"
        )
    scan_rows.sort(key=lambda r: r["T"])

    text = write_report(
        out, model, reference, rows, scan_rows,
        threads=plan.threads, start=start, recorded_args=recorded_args,
    )  # fmt: skip
    print(text)
    print(f"wrote {out}/table.md, results.json, 4 PNG plots and the model checkpoints")
    return text
