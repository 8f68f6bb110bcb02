"""`noether slmc`: self-learning Monte Carlo for the double-exchange model (Nagai & Tomiya).

Runs the exact reference Metropolis, fits effective models with 0 (linear) to ``--max-layers``
attention layers on its samples (with ``--rounds`` rounds of the self-learning loop; the model with
``l`` layers starts from the trained ``l - 1`` layer model plus an identity layer), runs SLMC with
each, and scans the temperature for the magnetisation from SLMC and from the reference. Writes
``table.md``, ``results.json``, four PNG plots and the model checkpoints to ``--out``.

Defaults: 6 x 6, t = 1, J = 4, mu = -3, T = 0.03 (about a third of an electron per site), where the
linear model's acceptance is about 20 %, as in the paper. Larger lattices (``--L 8``, ``--L 10``)
and longer runs (``--scale 4``) are options.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from noether.core.io import atomic_write, atomic_write_text
from noether.lattice.attention import EffectiveModel
from noether.lattice.loop import Dataset, self_learning
from noether.lattice.metropolis import ChainRecord, ExactMetropolis
from noether.lattice.model import DoubleExchangeModel
from noether.lattice.statistics import autocorrelation_window, mean_and_error
from noether.lattice.training import mse
from noether.studies import slmc_plots


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--L", type=int, default=6, help="lattice size L (L x L sites, periodic); 6, 8, 10")
    add("--t", type=float, default=1.0, help="hopping (the energy unit)")
    add("--J", type=float, default=4.0, help="spin-fermion coupling J")
    add("--mu", type=float, default=-3.0, help="chemical potential")
    add("--T", type=float, default=0.03, help="temperature of the layer study")
    add("--max-layers", type=int, default=6, help="models with 0 .. max-layers attention layers")
    add("--heads", type=int, default=2, help="attention heads per layer")
    add("--chains", type=int, default=16, help="independent chains run as one batch")
    add("--n-inner", type=int, default=None, help="effective-model updates per exact test (2N)")
    add("--rounds", type=int, default=2, help="rounds of the self-learning loop per model")
    add("--scale", type=float, default=1.0, help="multiply every sweep/step count (longer runs)")
    add("--ref-sweeps", type=int, default=150, help="reference sweeps recorded (training data)")
    add("--train-steps", type=int, default=500, help="AdamW steps per round")
    add("--slmc-steps", type=int, default=200, help="recorded SLMC updates in the last round")
    add(
        "--temperatures",
        type=str,
        default="0.02,0.05,0.08",
        help="extra temperatures of the magnetisation scan (comma-separated; '' for none)",
    )
    add("--scan-sweeps", type=int, default=80, help="reference sweeps per scan temperature")
    add("--threads", type=int, default=1, help="torch threads (1 is fastest for these sizes)")
    add("--seed", type=int, default=0)
    add("--out", type=Path, default=Path("runs/slmc"), help="output folder")


def _scaled(n: int, scale: float) -> int:
    return max(round(n * scale), 2)


def _save_model(effective: EffectiveModel, model: DoubleExchangeModel, path: Path) -> None:
    physics = {k: getattr(model, k) for k in ("L", "t", "J", "mu", "T")}
    state = {"config": effective.config(), "physics": physics, "state_dict": effective.state_dict()}
    atomic_write(path, lambda file: torch.save(state, file))


def summarise(record: ChainRecord, n_sites: int) -> dict:
    """Acceptance, autocorrelation (in diagonalisations) and cost of one sampler's record."""
    chains, steps = record.energy.shape
    tau_m, window_m = autocorrelation_window(record.magnetisation)
    tau_e, window_e = autocorrelation_window(record.energy)
    per_ed = record.diagonalisations_per_step
    acceptance, acceptance_err = mean_and_error(record.accepted)
    m, m_err = mean_and_error(record.magnetisation, tau_m)
    e, e_err = mean_and_error(record.energy, tau_e)
    seconds_per_step = record.seconds / (chains * steps)  # per chain, batched chains amortised
    tau = max(tau_m, tau_e)
    return {
        "acceptance": acceptance,
        "acceptance_err": acceptance_err,
        "tau_m_ed": tau_m * per_ed,
        "tau_e_ed": tau_e * per_ed,
        "tau_m_window": window_m,  # False: the run is shorter than ~5 tau, tau is rough
        "tau_e_window": window_e,
        "ed_per_effective_sample": tau * per_ed,
        "seconds_per_effective_sample": seconds_per_step * tau,
        "m": m,
        "m_err": m_err,
        "energy": e,
        "energy_err": e_err,
        "samples": chains * steps,
    }


def _tau(row: dict, name: str, digits: int) -> str:
    """τ in EDs, starred when Sokal's window was not reached within the run."""
    star = "" if row.get(f"tau_{name}_window", True) else "*"
    return f"{row[f'tau_{name}_ed']:.{digits}f}{star}"


def _table(reference: dict, rows: list[dict], model: DoubleExchangeModel) -> str:
    head = (
        "| sampler | layers | parameters | test MSE (t²) | β·RMSE | erfc(β·RMSE/2) | acceptance "
        "| τ_int(\\|m\\|) [EDs] | τ_int(Ω) [EDs] | ⟨\\|m\\|⟩ | ⟨Ω⟩/N | s per eff. sample |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| reference Metropolis | – | – | – | – | – | {reference['acceptance']:.3f} (1-spin) "
        f"| {_tau(reference, 'm', 0)} | {_tau(reference, 'e', 0)} "
        f"| {reference['m']:.4f} ± {reference['m_err']:.4f} "
        f"| {reference['energy']:.5f} ± {reference['energy_err']:.5f} "
        f"| {reference['seconds_per_effective_sample']:.3g} |"
    ]
    for r in rows:
        name = "SLMC linear" if r["layers"] == 0 else "SLMC transformer"
        lines.append(
            f"| {name} | {r['layers']} | {r['parameters']} | {r['test_mse']:.3e} "
            f"| {r['beta_rmse']:.2f} | {r['predicted_acceptance']:.3f} "
            f"| {r['acceptance']:.3f} ± {r['acceptance_err']:.3f} | {_tau(r, 'm', 1)} "
            f"| {_tau(r, 'e', 1)} | {r['m']:.4f} ± {r['m_err']:.4f} "
            f"| {r['energy']:.5f} ± {r['energy_err']:.5f} "
            f"| {r['seconds_per_effective_sample']:.3g} |"
        )
    caption = (
        f"{model.L}x{model.L}, t={model.t:g}, J={model.J:g}, mu={model.mu:g}, T={model.T:g}. "
        "EDs = exact diagonalisations; a reference sweep costs N of them, an SLMC update one. "
        "τ* : the run is shorter than about 5 τ (Sokal's window not reached), so τ and the error "
        "bars that use it are rough; --scale lengthens the runs."
    )
    return caption + "\n\n" + head + "\n".join(lines) + "\n"


def _reference(model, chains, burn, sweeps, seed, desc, keep=True):
    sampler = ExactMetropolis(model, n_chains=chains, seed=seed)
    with tqdm(total=burn + sweeps, desc=desc, unit="sweep", mininterval=10) as bar:
        sampler.burn_in(burn, progress=bar.update)
        record = sampler.run(sweeps, keep_every=1 if keep else 0, progress=bar.update)
    return sampler, record


def _data(record: ChainRecord, n_sites: int, seed: int) -> tuple[Dataset, tuple]:
    """Training data (train/validation split) and a score set from *other* chains, so that the
    reported loss is measured on configurations uncorrelated with those the models saw."""
    held = max(record.samples.shape[0] // 5, 1)
    energies = record.energy * n_sites
    score = (record.samples[:held].flatten(0, 1), energies[:held].flatten())
    data = Dataset.split(record.samples[held:].flatten(0, 1), energies[held:].flatten(), seed=seed)
    return data, score


def check_arguments(args: argparse.Namespace) -> tuple[DoubleExchangeModel, list[float]]:
    """The physics model and the scan temperatures; a ``ValueError`` naming the first bad option
    (checked before any sampling starts, so a bad option costs nothing)."""
    model = DoubleExchangeModel(L=args.L, t=args.t, J=args.J, mu=args.mu, T=args.T)
    try:
        scan = [float(x) for x in args.temperatures.split(",") if x.strip()]
    except ValueError:
        raise ValueError(
            f"--temperatures must be comma-separated numbers, got {args.temperatures!r}"
        ) from None
    bad = [T for T in scan if not (math.isfinite(T) and T > 0)]
    if bad:
        raise ValueError(f"--temperatures must all be positive and finite, got {bad[0]!r}")
    minimum = {
        "max_layers": 0,
        "heads": 1,
        "chains": 2,  # one chain is held out to score the models, the others train them
        "rounds": 1,
        "ref_sweeps": 1,
        "train_steps": 1,
        "slmc_steps": 1,
        "scan_sweeps": 1,
        "threads": 1,
    }
    for name, low in minimum.items():
        if getattr(args, name) < low:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be at least {low}, got {getattr(args, name)}")
    if args.n_inner is not None and args.n_inner < 1:
        raise ValueError(f"--n-inner must be at least 1, got {args.n_inner}")
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise ValueError(f"--scale must be positive, got {args.scale}")
    return model, scan


def main(args: argparse.Namespace) -> int:
    try:
        model, scan = check_arguments(args)
    except ValueError as err:
        print(f"noether slmc: {err}")
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    n = model.n_sites
    s = args.scale
    ref_burn, ref_sweeps = _scaled(args.ref_sweeps // 3, s), _scaled(args.ref_sweeps, s)
    train_steps, slmc_steps = _scaled(args.train_steps, s), _scaled(args.slmc_steps, s)
    slmc_burn = _scaled(20, s)
    print(f"noether slmc: {model}; {args.chains} chains, models 0..{args.max_layers} layers")

    ref_sampler, ref_record = _reference(
        model, args.chains, ref_burn, ref_sweeps, args.seed, f"reference T={model.T:g}"
    )
    reference = summarise(ref_record, n)
    data, score = _data(ref_record, n, args.seed)
    print(
        f"  reference: <|m|> = {reference['m']:.4f} ± {reference['m_err']:.4f}, "
        f"tau_int(|m|) = {reference['tau_m_ed']:.0f} EDs; {len(data)} labelled configurations"
    )

    rows, models = [], {}
    for layers in range(args.max_layers + 1):
        if layers == 0:
            effective = EffectiveModel(model.lattice, 0, args.heads, dtype=torch.float32)
        else:  # progressive growth: start from the previous model plus an identity layer
            effective = models[layers - 1].grown()
        total = args.rounds * (slmc_burn + train_steps * (layers > 0)) + slmc_steps
        total += (args.rounds - 1) * (slmc_steps // 3)
        with tqdm(total=total, desc=f"{layers} layers", unit="step", mininterval=10) as bar:
            loop = self_learning(
                model, effective, data, ref_sampler.spins, rounds=args.rounds,
                train_steps=train_steps, slmc_steps=slmc_steps, explore_steps=slmc_steps // 3,
                burn_in=slmc_burn,
                n_inner=args.n_inner, seed=args.seed + layers, progress=bar.update,
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
        _save_model(effective, model, out / f"model-{layers}-layers.pt")
        print(
            f"  {layers} layers: P={row['parameters']}, test MSE {row['test_mse']:.3e}, "
            f"acceptance {row['acceptance']:.3f} ± {row['acceptance_err']:.3f}, "
            f"tau_int(|m|) {row['tau_m_ed']:.1f} EDs"
        )

    deepest = models[args.max_layers]
    main_row = rows[-1]
    scan_rows = [{
        "T": model.T, "reference_m": reference["m"], "reference_m_err": reference["m_err"],
        "slmc_m": main_row["m"], "slmc_m_err": main_row["m_err"],
        "slmc_acceptance": main_row["acceptance"],
        "slmc_model": f"{args.max_layers} layers",
    }]  # fmt: skip
    for i, T in enumerate(scan):
        at_t = model.with_temperature(T)
        sampler, record = _reference(
            at_t, args.chains, _scaled(args.scan_sweeps // 3, s), _scaled(args.scan_sweeps, s),
            args.seed + 1000 + i, f"reference T={T:g}",
        )  # fmt: skip
        ref_t = summarise(record, n)
        effective = copy.deepcopy(deepest)
        scan_steps = _scaled(args.scan_sweeps, s)
        with tqdm(
            total=train_steps // 2 + slmc_burn + scan_steps, desc=f"SLMC T={T:g}", mininterval=10
        ) as bar:
            loop = self_learning(
                at_t, effective, _data(record, n, args.seed + i)[0], sampler.spins, rounds=1,
                train_steps=train_steps // 2, slmc_steps=scan_steps, burn_in=slmc_burn,
                n_inner=args.n_inner, seed=args.seed + 2000 + i, progress=bar.update,
            )  # fmt: skip
        slmc_t = summarise(loop.rounds[-1].record, n)
        scan_rows.append({
            "T": T, "reference_m": ref_t["m"], "reference_m_err": ref_t["m_err"],
            "slmc_m": slmc_t["m"], "slmc_m_err": slmc_t["m_err"],
            "slmc_acceptance": slmc_t["acceptance"], "slmc_model": f"{args.max_layers} layers",
        })  # fmt: skip
        print(
            f"  T={T:g}: reference <|m|> {ref_t['m']:.4f} ± {ref_t['m_err']:.4f}, "
            f"SLMC {slmc_t['m']:.4f} ± {slmc_t['m_err']:.4f} (acceptance "
            f"{slmc_t['acceptance']:.3f})"
        )
    scan_rows.sort(key=lambda r: r["T"])

    laws = {
        "loss_vs_parameters": slmc_plots.loss_vs_parameters(rows, out / "loss_vs_parameters.png"),
        "acceptance_vs_loss": slmc_plots.acceptance_vs_loss(
            rows, model.beta, out / "acceptance_vs_loss.png"
        ),
    }
    slmc_plots.acceptance_vs_layers(rows, out / "acceptance_vs_layers.png")
    slmc_plots.magnetisation_vs_temperature(scan_rows, out / "magnetisation_vs_T.png")

    table = _table(reference, rows, model)
    scan_table = (
        "| T | reference ⟨\\|m\\|⟩ | SLMC ⟨\\|m\\|⟩ | SLMC acceptance |\n|---|---|---|---|\n"
    )
    scan_table += "\n".join(
        f"| {r['T']:g} | {r['reference_m']:.4f} ± {r['reference_m_err']:.4f} "
        f"| {r['slmc_m']:.4f} ± {r['slmc_m_err']:.4f} | {r['slmc_acceptance']:.3f} |"
        for r in scan_rows
    )
    fits = []
    if laws["loss_vs_parameters"]:
        fits.append(
            f"test MSE ∝ P^{laws['loss_vs_parameters']['exponent']:.3f} (models with >= 2 layers)"
        )
    if laws["acceptance_vs_loss"]:
        fits.append(f"acceptance ∝ MSE^{laws['acceptance_vs_loss']['exponent']:.3f} (all models)")
    elapsed = time.perf_counter() - start
    text = table + "\n" + scan_table + "\n\nPower laws: " + "; ".join(fits) + "\n"
    text += f"\nWall time of the whole study: {elapsed / 60:.1f} min ({args.threads} thread(s)).\n"
    atomic_write_text(out / "table.md", text)
    payload = {"args": {k: str(v) for k, v in vars(args).items() if not k.startswith("_")},
               "reference": reference, "models": rows, "scan": scan_rows, "power_laws": laws,
               "seconds": elapsed}  # fmt: skip
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    print(text)
    print(f"wrote {out}/table.md, results.json, 4 PNG plots and the model checkpoints")
    return 0
