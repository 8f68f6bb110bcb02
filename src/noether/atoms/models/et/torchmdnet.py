"""Bring a TorchMD-NET ET checkpoint into noether's :class:`ET`.

TorchMD-NET (``torchmd-train``) saves Lightning checkpoints holding ``hyper_parameters`` and a
``state_dict`` with keys under ``model.``. :func:`load_torchmdnet` reads one (or takes the two
directly, :func:`from_torchmdnet_state`), checks that the model is one noether's ET reproduces
exactly, and maps every weight:

- ``q_proj``, ``k_proj``, ``v_proj`` become one ``qkv`` layer and ``dk_proj``, ``dv_proj`` one
  ``filter`` layer; the value and value-filter rows are reordered from upstream's per-head
  ``[s⁰ s¹ s²]`` interleaving to ``[s⁰ | s¹ | s²]``;
- the readout (``EquivariantScalar``), the neighbour embedding, the basis, the norms map one to one;
- ``std`` becomes the scale, ``mean`` (added once per molecule upstream) the per-frame offset, and an
  ``Atomref`` prior the reference energies, all converted to eV from ``energy_unit``.

Only models trained with ``vector_cutoff: true`` convert: without it the upstream energy has a
step at the cutoff, which noether's ET (every message cut off) does not reproduce.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import Tensor

from noether.atoms.elements import MAX_Z
from noether.atoms.models.et.model import ET
from noether.atoms.units import energy_factor

__all__ = ["from_torchmdnet_state", "load_torchmdnet"]

_ACTIVATIONS = ("silu", "ssp", "tanh", "sigmoid")


def _require(hp: dict, key: str, accepted: tuple, default=None):
    value = hp.get(key, default)
    if value not in accepted:
        raise ValueError(
            f"TorchMD-NET checkpoint has {key}={value!r}; noether's ET converts only "
            f"{key} in {accepted}"
        )
    return value


def _check(hp: dict) -> None:
    _require(hp, "model", ("equivariant-transformer",))
    if not hp.get("vector_cutoff", False):
        raise ValueError(
            "TorchMD-NET checkpoint has vector_cutoff=False: its vector messages are not cut off, "
            "so its energy jumps when a pair crosses the cutoff. noether's ET cuts every message "
            "and can only reproduce models trained with vector_cutoff: true"
        )
    if float(hp.get("cutoff_lower", 0.0)) != 0.0:
        raise ValueError(
            f"TorchMD-NET checkpoint has cutoff_lower={hp['cutoff_lower']}; accepted: 0"
        )
    _require(hp, "rbf_type", ("expnorm",))
    _require(hp, "activation", _ACTIVATIONS)
    _require(hp, "attn_activation", _ACTIVATIONS)
    _require(hp, "output_model", ("Scalar",))
    _require(hp, "reduce_op", ("add", "sum"))
    _require(hp, "output_mlp_num_layers", (0, None), default=0)
    _require(hp, "atom_filter", (-1, None), default=-1)
    prior = hp.get("prior_model")
    names = [] if prior in (None, "", []) else prior if isinstance(prior, list) else [prior]
    names = [next(iter(p)) if isinstance(p, dict) else p for p in names]
    if any(n != "Atomref" for n in names) or len(names) > 1:
        raise ValueError(
            f"TorchMD-NET checkpoint has prior_model={prior!r}; noether converts none or one Atomref"
        )


def _per_head_to_blocks(t: Tensor, heads: int) -> Tensor:
    """Rows ``(h, part, c)`` (upstream's ``view(heads, 3·d)`` split) to ``(part, h, c)``."""
    rows = t.shape[0]
    width = rows // (3 * heads)
    return t.reshape(heads, 3, width, *t.shape[1:]).transpose(0, 1).reshape(rows, *t.shape[1:])


def from_torchmdnet_state(
    hparams: dict, state_dict: dict[str, Tensor], *, energy_unit: str = "eV", dtype=None
) -> ET:
    """An :class:`ET` with exactly the function of a TorchMD-NET ET (energies now in eV).

    Args:
        hparams: the checkpoint's ``hyper_parameters``.
        state_dict: the checkpoint's ``state_dict`` (keys with or without the ``model.`` prefix).
        energy_unit: the unit the upstream model predicts (its training data's unit:
            ``kcal/mol`` for MD17, ``eV`` for SPICE/ANI as TorchMD-NET converts them).
        dtype: parameter dtype (default: the checkpoint's ``precision``).
    """
    _check(hparams)
    if dtype is None:
        dtype = torch.float64 if int(hparams.get("precision", 32)) == 64 else torch.float32
    factor = energy_factor(energy_unit)
    sd = {re.sub(r"^model\.", "", k): v for k, v in state_dict.items()}
    sd = {  # the output-MLP rename of TorchMD-NET PR #314
        re.sub(r"(output_network\.\d+\.update_net)\.(\d+)\.", r"\1.layers.\2.", k): v
        for k, v in sd.items()
    }
    hidden, layers = int(hparams["embedding_dimension"]), int(hparams["num_layers"])
    heads = int(hparams["num_heads"])
    model = ET(
        hidden=hidden,
        layers=layers,
        heads=heads,
        num_rbf=int(hparams["num_rbf"]),
        cutoff=float(hparams["cutoff_upper"]),
        max_z=int(hparams["max_z"]),
        trainable_rbf=bool(hparams["trainable_rbf"]),
        neighbor_embedding=bool(hparams["neighbor_embedding"]),
        distance_influence=hparams.get("distance_influence", "both"),
        activation=hparams["activation"],
        attn_activation=hparams["attn_activation"],
        head="gated",
        dtype=dtype,
    )
    rep = "representation_model."
    new: dict[str, Tensor] = {
        "embedding.weight": sd[rep + "embedding.weight"],
        "rbf.means": sd[rep + "distance_expansion.means"],
        "rbf.betas": sd[rep + "distance_expansion.betas"],
        "out_norm.weight": sd[rep + "out_norm.weight"],
        "out_norm.bias": sd[rep + "out_norm.bias"],
    }
    if model.neighbor_embedding is not None:
        ne = rep + "neighbor_embedding."
        for ours, theirs in (
            ("embedding.weight", "embedding.weight"),
            ("distance.weight", "distance_proj.weight"),
            ("distance.bias", "distance_proj.bias"),
            ("combine.weight", "combine.weight"),
            ("combine.bias", "combine.bias"),
        ):
            new[f"neighbor_embedding.{ours}"] = sd[ne + theirs]
    for layer_index, layer in enumerate(model.layers):
        up = f"{rep}attention_layers.{layer_index}."
        ours = f"layers.{layer_index}."
        for part in ("weight", "bias"):
            new[ours + f"norm.{part}"] = sd[up + f"layernorm.{part}"]
            new[ours + f"qkv.{part}"] = torch.cat(
                [
                    sd[up + f"q_proj.{part}"],
                    sd[up + f"k_proj.{part}"],
                    _per_head_to_blocks(sd[up + f"v_proj.{part}"], heads),
                ]
            )
            new[ours + f"out.{part}"] = sd[up + f"o_proj.{part}"]
            filters = []
            if layer.keys:
                filters.append(sd[up + f"dk_proj.{part}"])
            if layer.values:
                filters.append(_per_head_to_blocks(sd[up + f"dv_proj.{part}"], heads))
            if filters:
                new[ours + f"filter.{part}"] = torch.cat(filters)
        new[ours + "vec_proj.weight"] = sd[up + "vec_proj.weight"]
    head = "output_model.output_network."
    for block in (0, 1):
        ours = f"head.blocks.{block}."
        new[ours + "vec1.weight"] = sd[f"{head}{block}.vec1_proj.weight"]
        if block == 0:
            new[ours + "vec2.weight"] = sd[f"{head}{block}.vec2_proj.weight"]
        for ours_name, index in (("inner", 0), ("outer", 2)):
            for part in ("weight", "bias"):
                new[f"{ours}mlp.{ours_name}.{part}"] = sd[
                    f"{head}{block}.update_net.layers.{index}.{part}"
                ]

    std = float(sd.get("std", torch.tensor(1.0)))
    mean = float(sd.get("mean", torch.tensor(0.0)))
    atomref = torch.zeros(MAX_Z + 1, dtype=torch.float64)
    if "prior_model.0.atomref.weight" in sd:
        table = sd["prior_model.0.atomref.weight"].reshape(-1).double()
        args = hparams.get("prior_args") or {}
        if isinstance(args, list):
            args = args[0] if args else {}
        if args.get("enable", True):
            atomref[: min(len(table), MAX_Z + 1)] = table[: MAX_Z + 1] * factor
    model.load_state_dict({**model.state_dict(), **new}, strict=True)
    with torch.no_grad():
        model.scale_shift.set(std * factor, 0.0)
        model.frame_offset.fill_(mean / std)
        model.atomref.set(atomref)
    return model.eval()


def load_torchmdnet(
    path: str | os.PathLike, *, energy_unit: str = "eV", dtype=None, trusted: bool = False
) -> ET:
    """Read a ``torchmd-train`` checkpoint (``.ckpt``) and return the equivalent :class:`ET`.

    The file is read with ``weights_only=True``; a checkpoint whose hyperparameters hold Python
    objects needs ``trusted=True`` (full unpickling: only for files you trust).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trusted)
    except Exception as err:
        hint = "" if trusted else " (if you trust the file, pass trusted=True)"
        raise ValueError(f"{path}: cannot read as a TorchMD-NET checkpoint: {err}{hint}") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(
            f"{path}: not a TorchMD-NET checkpoint (expected a dict with 'hyper_parameters' and "
            f"'state_dict', as torchmd-train writes)"
        )
    return from_torchmdnet_state(
        dict(ckpt["hyper_parameters"]), ckpt["state_dict"], energy_unit=energy_unit, dtype=dtype
    )
