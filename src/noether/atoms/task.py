"""The atomistic training task: energies and forces of a :class:`Potential` (``task: {name: atoms}``).

Loss per batch: ``energy_weight * MSE(E/atom) + forces_weight * MSE(F)`` in eV and eV/Å (with
``energy_loss="per_frame"``, ``MSE(E)`` of the frame energy, TorchMD-NET's form), each over
the frames that carry the label (per-sample masks; a weight of 0 drops a term, e.g. force-only
training as in PolyGET). Compared quantities: ``energy`` (per frame) in meV and ``forces`` (per
component) in meV/Å, so the stack reports MAE/RMSE in those units and draws their parity plots.
Per-element reference energies (least squares) and the standardisation (mean per-atom energy,
RMS force) are measured on the training split and given to the model as constructor arguments
(``model_defaults``), so they are written into the run's config.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from noether.atoms.batch import AtomsBatch, collate_atoms
from noether.atoms.dataset import AtomsDataset
from noether.atoms.elements import symbol
from noether.atoms.finetune import initialise_new_elements, potential_options, trained_elements
from noether.atoms.formats import read_dataset
from noether.atoms.potential import Potential
from noether.atoms.priors import fit_atomref
from noether.atoms.splits import load_splits, make_splits
from noether.atoms.standardize import SCALES, energy_statistics
from noether.atoms.units import REPORT_ENERGY_UNITS, report_conversions, report_unit
from noether.core.checkpoints import load_trained_model
from noether.core.errors import DataError
from noether.core.registry import register_task
from noether.core.task import DataPath, Splits, Task

__all__ = ["ENERGY_LOSSES", "REFITS", "AtomisticTask", "load_trained_potential"]

REFITS = ("never", "validation", "end")
REFIT_ALIASES = {True: "validation", False: "never", None: "never"}
ENERGY_LOSSES = ("per_atom", "per_frame")


@register_task("atoms")
class AtomisticTask(Task):
    """Fit energies and forces of an atomistic data file.

    Args:
        path: the data (extxyz, HDF5, sGDML or rMD17 npz; see :mod:`noether.atoms.formats`).
        splits: an npz with ``idx_train``, ``idx_val``, ``idx_test``; else ``split`` fractions
            (or counts) drawn with ``split_seed``.
        split: train, validation and test fractions (or frame counts) when there is no
            ``splits`` file (null: 0.8, 0.1, 0.1).
        split_seed: random seed of the ``split`` draw.
        energy_weight, forces_weight: weights of the two MSEs (in eV²/atom² or eV², and eV²/Å²).
        energy_key, forces_key: extxyz keys of the labels.
        energy_unit, length_unit: units of the file (None: the format's own).
        missing: ``"mask"`` (frames without a label are masked) or ``"error"``.
        fit_atomref, standardize: measure reference energies / scale and shift on the training split.
        scale: what ``standardize`` takes as the output scale: ``"rms_force"`` (the RMS force
            component, default) or ``"energy_std"`` (the standard deviation of the frame
            energies, TorchMD-NET's choice); see :func:`~noether.atoms.standardize.energy_statistics`.
        refit_offsets: when to re-fit the model's reference energies (AtomRef) to its energy
            residuals on the training frames (least squares on the element counts; for one
            molecule, the mean residual): ``"end"`` once, into the best checkpoint after
            training (the training itself is untouched); ``"validation"`` (or True) before each
            validation, so every validated and checkpointed model carries them; ``"never"`` (or
            False). The forces do not see these constants and a force-dominated loss holds them
            only weakly, so without a re-fit they wander with the output bias; a re-fit costs
            one energy-only pass over the training split.
        energy_loss: ``"per_atom"`` (default): the energy term is the MSE of ``E / n_atoms``;
            ``"per_frame"``: the MSE of ``E`` itself (TorchMD-NET's ``y_weight``, so a weight of
            ``w`` per atom equals ``w / n_atoms²`` per frame for one molecule of ``n_atoms``).
    """

    units: ClassVar[dict[str, str]] = {"energy": "meV", "forces": "meV/Å"}

    def __init__(
        self,
        path: DataPath,
        splits: DataPath | None = None,
        split: list[float] | None = None,
        split_seed: int = 0,
        energy_weight: float = 1.0,
        forces_weight: float = 10.0,
        energy_key: str = "REF_energy",
        forces_key: str = "REF_forces",
        energy_unit: str | None = None,
        length_unit: str | None = None,
        missing: str = "mask",
        fit_atomref: bool = True,
        standardize: bool = True,
        scale: str = "rms_force",
        refit_offsets: bool | str = "never",
        energy_loss: str = "per_atom",
    ) -> None:
        if energy_weight < 0 or forces_weight < 0 or energy_weight + forces_weight == 0:
            raise ValueError(
                f"energy_weight and forces_weight must be >= 0 and not both 0, got "
                f"{energy_weight}, {forces_weight}"
            )
        if energy_loss not in ENERGY_LOSSES:
            raise ValueError(
                f"unknown energy_loss {energy_loss!r}; accepted: {', '.join(ENERGY_LOSSES)}"
            )
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; accepted: {', '.join(SCALES)}")
        if missing not in ("mask", "error"):
            raise ValueError(f"missing must be 'mask' or 'error', got {missing!r}")
        if splits is not None and split is not None:
            raise ValueError(
                f"split: got {list(split)}, which has no effect with splits: {splits!r} (its "
                "indices are used); accepted: one of the two"
            )
        self.path, self.splits_path = path, splits
        self.split = list(split) if split is not None else [0.8, 0.1, 0.1]
        if len(self.split) != 3:
            raise ValueError(f"split needs three sizes (train, val, test), got {self.split}")
        self.split_seed = split_seed
        self.energy_weight, self.forces_weight = float(energy_weight), float(forces_weight)
        self.energy_loss = energy_loss
        self.energy_key, self.forces_key = energy_key, forces_key
        self.energy_unit, self.length_unit, self.missing = energy_unit, length_unit, missing
        self.fit_atomref, self.standardize, self.scale = fit_atomref, standardize, scale
        self.refit_offsets = REFIT_ALIASES.get(refit_offsets, refit_offsets)
        if self.refit_offsets not in REFITS:
            raise ValueError(
                f"refit_offsets: got {refit_offsets!r}; accepted: {', '.join(REFITS)} "
                "(True means 'validation', False 'never')"
            )
        self.edits_model_before_validation = self.refit_offsets == "validation"
        self._data: AtomsDataset | None = None
        self._indices: dict[str, np.ndarray] | None = None

    # ------------------------------------------------------------------------------------ data
    def _load(self) -> tuple[AtomsDataset, dict[str, np.ndarray]]:
        if self._data is None:
            options: dict[str, Any] = {}
            if str(self.path).endswith((".xyz", ".extxyz")):
                options.update(
                    energy_key=self.energy_key, forces_key=self.forces_key, missing=self.missing
                )
            if self.energy_unit:
                options["energy_unit"] = self.energy_unit
            if self.length_unit:
                options["length_unit"] = self.length_unit
            data = read_dataset(self.path, **options)
            if self.splits_path is not None:
                indices = load_splits(self.splits_path, n_frames=len(data))
            else:
                sizes: list[int | float | None] = [
                    int(s) if float(s).is_integer() and s >= 1 else float(s) for s in self.split
                ]
                if all(isinstance(s, float) for s in sizes) and abs(sum(sizes) - 1.0) < 1e-9:
                    sizes[2] = None  # the test split takes what rounding leaves
                try:
                    indices = make_splits(len(data), *sizes, seed=self.split_seed)
                except ValueError as err:  # sizes that need more frames than the file has
                    raise DataError(
                        f"{self.path}: task.split {self.split}: {err}",
                        file=self.path,
                        field="task.split",
                    ) from None
            self._check_splits(len(data), indices)
            self._data, self._indices = data, indices
        return self._data, self._indices

    def _check_splits(self, n_frames: int, indices: dict[str, np.ndarray]) -> None:
        """Training and validation need frames; an empty test split is allowed."""
        for key, position, name in (("idx_train", 0, "training"), ("idx_val", 1, "validation")):
            if len(indices[key]):
                continue
            if self.splits_path is not None:
                raise DataError(
                    f"{self.splits_path}: the {name} split ({key}) is empty; accepted: a splits "
                    f"file whose {key} holds at least one of the {n_frames} frames of {self.path}",
                    file=self.splits_path,
                    field=key,
                )
            size = self.split[position]
            raise DataError(
                f"{self.path}: the {name} split of {n_frames} frames with fraction {size} is "
                f"empty; accepted: task.split[{position}] a fraction >= {1 / n_frames:.3g} "
                f"(one frame) or a count >= 1",
                file=self.path,
                field=f"task.split[{position}]",
                value=size,
            )

    def datasets(self) -> Splits:
        data, idx = self._load()
        return Splits(
            train=data.subset(idx["idx_train"]),
            val=data.subset(idx["idx_val"]),
            test=data.subset(idx["idx_test"]) if len(idx["idx_test"]) else None,
        )

    def model_defaults(self) -> dict[str, Any]:
        data, idx = self._load()
        train = data.subset(idx["idx_train"])
        defaults: dict[str, Any] = {"elements": [symbol(int(z)) for z in np.unique(train.numbers)]}
        atomref = None
        if self.fit_atomref and train.label_mask("energy").any():
            atomref = fit_atomref(train)
            present = np.unique(train.numbers)
            defaults["atomref"] = {symbol(int(z)): float(atomref[z]) for z in present}
        if self.standardize:
            scale, shift = energy_statistics(train, atomref, scale=self.scale)
            defaults.update(energy_scale=scale, energy_shift=shift)
        return defaults

    def before_validation(self, model: nn.Module) -> None:
        if self.refit_offsets == "validation":
            self.refit_reference_energies(model)

    def after_training(self, model: nn.Module) -> bool:
        if self.refit_offsets != "end":
            return False
        return self.refit_reference_energies(model)

    def adapt_initialised(
        self,
        model: nn.Module,
        fresh: Mapping[str, Tensor],
        source_config: Mapping[str, Any],
        new_elements: str = "mean",
    ) -> tuple[dict[str, Any], list[str]]:
        """A potential loaded from another run: rows of its element tables for elements that
        run never trained on (:func:`~noether.atoms.finetune.initialise_new_elements`), then
        the reference energies refit on this training split (with ``fit_atomref``); the
        standardisation stays the source's. Returns its constants as model options and the
        lines that say what changed."""
        if not isinstance(model, Potential):
            return {}, []
        data, idx = self._load()
        train = data.subset(idx["idx_train"])
        trained = trained_elements(source_config.get("model") or {})
        notes = initialise_new_elements(
            model, fresh, trained, np.unique(train.numbers), new_elements
        )
        if self.fit_atomref and self.refit_reference_energies(model):
            notes.append(
                f"reference energies refit to the model's residuals on the {len(train)} "
                f"training frames; energy_scale and energy_shift kept from the source"
            )
        return potential_options(model), notes

    def refit_reference_energies(self, model: nn.Module, frames_per_batch: int = 64) -> bool:
        """Add to ``model.atomref`` the least-squares reference energies of the model's energy
        residuals on the training frames; False (nothing changed) without energy labels."""
        if not isinstance(model, Potential):
            raise ValueError(
                f"task.refit_offsets needs a model with reference energies (a Potential's "
                f"atomref); {type(model).__name__} has none"
            )
        data, idx = self._load()
        train = data.subset(idx["idx_train"])
        labelled = train.label_mask("energy")
        if not labelled.any():
            return False
        device = model.atomref.energies.device
        predicted = np.zeros(len(train))
        with torch.no_grad():
            for start in range(0, len(train), frames_per_batch):
                frames = np.arange(start, min(start + frames_per_batch, len(train)))
                batch = AtomsBatch.from_dataset(train, frames).to(device)
                out = model.predict(batch, compute_forces=False, create_graph=False)
                predicted[frames] = out["energy"].double().cpu().numpy()
        residual = np.where(labelled, train.energy - predicted, 0.0)
        delta = fit_atomref(train, energies=residual)
        model.atomref.set(model.atomref.energies.double().cpu().numpy() + delta)
        return True

    def collate(self, samples: list) -> AtomsBatch:
        return collate_atoms(samples)

    def batch_size(self, batch: AtomsBatch) -> int:
        return batch.n_graphs

    # ------------------------------------------------------------------------ model and loss
    def forward(self, model: nn.Module, batch: AtomsBatch) -> dict[str, Tensor]:
        with torch.enable_grad():
            return model(
                batch.numbers,
                batch.positions,
                batch.batch,
                batch.cell,
                batch.pbc,
                compute_forces=self.forces_weight > 0 or batch.forces is not None,
                create_graph=model.training and self.forces_weight > 0,
            )

    def _masks(self, batch: AtomsBatch) -> tuple[Tensor | None, Tensor | None]:
        energy = None
        if batch.energy is not None and batch.energy_mask is not None:
            energy = batch.energy_mask
        forces = None
        if batch.forces is not None and batch.forces_mask is not None:
            forces = batch.forces_mask[batch.batch]
        return energy, forces

    def loss(self, pred: dict[str, Tensor], batch: AtomsBatch) -> Tensor:
        energy_mask, forces_mask = self._masks(batch)
        total = pred["energy"].sum() * 0.0  # keeps every parameter in the graph (DDP)
        if self.energy_weight > 0 and energy_mask is not None and energy_mask.any():
            err = pred["energy"] - batch.energy.to(pred["energy"].dtype)
            if self.energy_loss == "per_atom":
                err = err / batch.n_atoms.to(err.dtype)
            total = total + self.energy_weight * err[energy_mask].square().mean()
        if self.forces_weight > 0 and forces_mask is not None and forces_mask.any():
            err = pred["forces"] - batch.forces.to(pred["forces"].dtype)
            total = total + self.forces_weight * err[forces_mask].square().mean()
        return total

    def unit_conversions(self, unit: str) -> dict[str, tuple[str, float, str]]:
        """Energies in ``unit`` (meV, eV, kcal/mol, kJ/mol), forces in ``unit``/Å."""
        energy = report_unit(unit, REPORT_ENERGY_UNITS)
        if energy is None:
            raise ValueError(f"{unit!r}: accepted: {', '.join(REPORT_ENERGY_UNITS)}")
        return report_conversions(energy, f"{energy}/Å")

    def compare(
        self, pred: dict[str, Tensor], batch: AtomsBatch
    ) -> dict[str, tuple[Tensor, Tensor]]:
        energy_mask, forces_mask = self._masks(batch)
        out = {}
        if energy_mask is not None:
            out["energy"] = (
                1e3 * pred["energy"][energy_mask],
                1e3 * batch.energy[energy_mask].to(pred["energy"].dtype),
            )
        if forces_mask is not None and "forces" in pred:
            out["forces"] = (
                1e3 * pred["forces"][forces_mask].reshape(-1),
                1e3 * batch.forces[forces_mask].to(pred["forces"].dtype).reshape(-1),
            )
        return out


def load_trained_potential(path: str, map_location: str = "cpu") -> nn.Module:
    """The model of a training run (a run folder or one of its ``.ckpt`` files), in eval mode.

    Rebuilt from the run's config through the training registry, in float64 if the run trained in
    float64; with EMA the checkpoint holds the averaged weights.
    """
    return load_trained_model(path, map_location=map_location)
