"""`Potential`: the interface every molecular model in noether shares.

A subclass implements one method, :meth:`Potential.atomic_energies`, which maps a :class:`Graph`
(atoms, neighbour pairs and their vectors) to one dimensionless number per atom. The base class
does the rest, the same way for every model:

- the neighbour list within ``cutoff`` (:mod:`noether.atoms.neighbors`);
- atom-wise energies in eV: ``scale * raw + shift + AtomRef[z] + Σ priors`` (:class:`ScaleShift`,
  :class:`AtomRef` and any extra priors are separate modules, saved with the model);
- total energies per frame (sum over the frame's atoms, via the batch index);
- forces ``-dE/dr`` by autograd (with ``create_graph`` while training, so a force loss trains);
- stress ``(1/V) dE/dε`` from a symmetric strain ``ε`` applied to positions and cell (eV/Å³, ASE's
  sign convention), for periodic frames.

The dtype is the model's own (``model.to(torch.float64)``); inputs are cast to it. torch's global
default dtype is never changed. Constructor arguments are recorded automatically, so
:func:`noether.atoms.checkpoint.load_potential` can rebuild any subclass from a checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from noether.atoms.elements import MAX_Z, atomic_number, symbol
from noether.atoms.neighbors import edge_vectors, neighbor_list
from noether.atoms.priors import AtomRef
from noether.atoms.standardize import ScaleShift
from noether.core.config import config_class, config_dict

__all__ = [
    "Graph",
    "Potential",
    "PotentialConfig",
    "as_dtype",
    "check_elements",
    "compile_failed",
    "energy_derivatives",
    "frame_sum",
]


def frame_sum(values: Tensor, batch: Tensor, n_graphs: int) -> Tensor:
    """``(G, ...)`` sums over each frame's atoms of ``values (N, ...)``; ``batch (N,)`` frame index.

    One frame is a plain sum: torch.compile specialises a size-1 output, and inductor's CPU
    code for an atomic-add scatter into it fails with several threads (torch 2.13).
    """
    if n_graphs == 1:
        return values.sum(0, keepdim=True)
    return values.new_zeros((n_graphs, *values.shape[1:])).index_add(0, batch, values)


@dataclass
class Graph:
    """What a model sees. ``N`` atoms in ``G`` frames with ``E`` directed pairs.

    Attributes:
        numbers: ``(N,)`` int64 atomic numbers.
        positions: ``(N, 3)`` Å (strained when stress is requested).
        batch: ``(N,)`` int64 frame of each atom.
        n_graphs: ``G``.
        edge_index: ``(2, E)``: centre ``i`` (row 0) and neighbour ``j`` (row 1).
        vectors: ``(E, 3)`` ``r_j - r_i`` (with periodic shifts), Å; differentiable.
        cell: ``(G, 3, 3)`` Å (zeros without a cell); pbc: ``(G, 3)`` bool.
    """

    numbers: Tensor
    positions: Tensor
    batch: Tensor
    n_graphs: int
    edge_index: Tensor
    vectors: Tensor
    cell: Tensor
    pbc: Tensor

    @property
    def lengths(self) -> Tensor:
        """``(E,)`` pair distances in Å."""
        return self.vectors.norm(dim=-1)


def as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` (as in a YAML config) or a torch floating dtype."""
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name in ("float32", "float64", "float16", "bfloat16"):
        return getattr(torch, name)
    raise ValueError(f"unknown dtype {dtype!r}; accepted: 'float32', 'float64' or a torch dtype")


@dataclass(frozen=True)
class PotentialConfig:
    """The options every :class:`Potential` takes beside its own (a model's config extends this;
    a training task sets ``atomref`` and the standardisation from the training split)."""

    neighbor_method: str = "auto"
    """See :func:`noether.atoms.neighbors.neighbor_list`."""
    atomref: dict[str, float] | None = None
    """Per-element reference energies in eV (``{"H": -13.6}``); zero for elements not named."""
    energy_scale: float = 1.0
    """Standardisation ``scale * raw + shift`` of the per-atom energies: the scale."""
    energy_shift: float = 0.0
    """Standardisation: the shift in eV per atom."""
    elements: list[str] | None = None
    """The elements the model was trained on (``["H", "C", "O"]``, set by the atoms task from the
    training split); atoms of other elements are refused. None: any element the model embeds."""
    dtype: str | torch.dtype = "float32"
    """The model's floating dtype, ``"float32"`` or ``"float64"`` (a torch dtype is kept by name:
    ``torch.float64`` and ``"torch.float64"``, as old checkpoints store it, are ``"float64"``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", str(self.dtype).removeprefix("torch."))


def _jsonable(value):
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def check_elements(
    numbers: Tensor,
    max_atomic_number: int = MAX_Z,
    elements: list[int] | None = None,
    where: Callable[[int], str] | None = None,
    model: str = "model",
) -> None:
    """Refuse an atom that is no element, is beyond the ``max_atomic_number`` a model embeds, or
    whose element is not among ``elements`` (the atomic numbers it was trained on; None: not
    recorded): ``ValueError`` naming the atom (``where(k)``, default ``atom k``) and what is
    accepted."""
    if not numbers.numel():
        return
    place = where or (lambda k: f"atom {k}")
    bad = (numbers < 1) | (numbers > MAX_Z)
    if bad.any():
        k = int(torch.nonzero(bad)[0, 0])
        raise ValueError(
            f"{place(k)}: atomic number {int(numbers[k])} is not an element; accepted: "
            f"1 (H) to {MAX_Z} (Og)"
        )
    if max_atomic_number < MAX_Z and int(numbers.max()) > max_atomic_number:
        k = int(torch.argmax(numbers))
        raise ValueError(
            f"{place(k)}: atomic number {int(numbers[k])} is beyond this {model}'s element "
            f"range; accepted: 1 to {max_atomic_number}"
        )
    if elements is None:
        return
    known = torch.as_tensor(elements, dtype=torch.long, device=numbers.device)
    unknown = ~torch.isin(numbers.long(), known)
    if unknown.any():
        k = int(torch.nonzero(unknown)[0, 0])
        z = int(numbers[k])
        raise ValueError(
            f"{place(k)}: element {symbol(z)} (atomic number {z}) is not one this {model} was "
            f"trained on; accepted: {', '.join(symbol(e) for e in elements)}"
        )


def compile_failed(error: BaseException) -> bool:
    """Whether ``error`` comes from torch.compile itself (a backend or code-generation failure,
    e.g. inductor's CPU code generation with several threads), not from the model or its input."""
    from torch._dynamo.exc import BackendCompilerFailed

    failures: tuple[type[BaseException], ...] = (BackendCompilerFailed,)
    try:
        from torch._inductor.exc import InductorError

        failures += (InductorError,)
    except ImportError:  # an older torch
        pass
    return isinstance(error, failures)


def energy_derivatives(
    energy: Tensor,
    positions: Tensor | None,
    strain: Tensor | None,
    volume: Tensor | None,
    *,
    create_graph: bool = False,
) -> dict[str, Tensor]:
    """``forces = -dE/dr`` (when ``positions`` is given) and ``stress = (1/V) dE/dε`` (when
    ``strain`` is given, with ``volume (G,)`` Å³) by one autograd call."""
    inputs = [x for x in (positions, strain) if x is not None]
    if not inputs:
        return {}
    grads = torch.autograd.grad(energy.sum(), inputs, create_graph=create_graph, allow_unused=True)
    grads = [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]
    out = {}
    if positions is not None:
        out["forces"] = -grads[0]
    if strain is not None:
        out["stress"] = grads[-1] / volume.reshape(-1, 1, 1)
    return out


class Potential(nn.Module):
    """Base class of interatomic potentials: energy, forces and stress from atoms.

    Args:
        cutoff: neighbour cutoff in Å.
        neighbor_method: see :func:`noether.atoms.neighbors.neighbor_list`.
        atomref: per-element reference energies in eV (``{"H": -13.6, "C": -1029.3}``); zero
            for elements not named. A subclass passes these three through its constructor so
            that a training task can set them from the data (``Task.model_defaults``).
        energy_scale, energy_shift: the standardisation ``scale * raw + shift`` (eV per atom).
        elements: the elements the model was trained on (symbols or numbers); inputs with other
            elements are refused. None: every element up to ``max_atomic_number``.
    """

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            # a model with a config dataclass records nothing: its hparams are the config's
            if "_hparams" not in self.__dict__ and config_class(cls) is None:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                hparams = dict(bound.arguments)
                hparams.pop("self")
                for name, param in signature.parameters.items():
                    if param.kind is inspect.Parameter.VAR_KEYWORD:
                        hparams.update(hparams.pop(name, {}))
                object.__setattr__(self, "_hparams", _jsonable(hparams))
            init(self, *args, **kw)

        cls.__init__ = recording_init

    def __init__(
        self,
        cutoff: float,
        *,
        neighbor_method: str = "auto",
        atomref: dict[str, float] | None = None,
        energy_scale: float = 1.0,
        energy_shift: float = 0.0,
        elements: list[str | int] | None = None,
    ):
        super().__init__()
        if not (cutoff > 0):
            raise ValueError(f"cutoff must be positive (Å), got {cutoff}")
        self.cutoff = float(cutoff)
        #: the largest atomic number the model has parameters for (a subclass may lower it)
        self.max_atomic_number = MAX_Z
        #: the atomic numbers the model was trained on, sorted (None: not recorded)
        self.elements = None if elements is None else sorted({atomic_number(e) for e in elements})
        self._compiled_energy = None
        self._inference_parameters: tuple[nn.Parameter, ...] = ()
        self.neighbor_method = neighbor_method
        self.atomref = AtomRef()
        if atomref:
            table = torch.zeros(MAX_Z + 1, dtype=torch.float64)
            for element, energy in atomref.items():
                table[atomic_number(element)] = float(energy)
            self.atomref.set(table)
        self.scale_shift = ScaleShift()
        self.scale_shift.set(energy_scale, energy_shift)
        self.priors = nn.ModuleList()

    # --------------------------------------------------------------------------- to implement
    def atomic_energies(self, graph: Graph) -> Tensor:
        """``(N,)`` raw per-atom outputs (before scale, shift and priors). Must be smooth in
        ``graph.vectors`` and vanish smoothly as a pair reaches the cutoff."""
        raise NotImplementedError

    def element_parameters(self) -> list[str]:
        """Names of the parameters whose first axis is the atomic number (element embedding
        tables, ``(max_z, ...)``): fine-tuning sets the rows of elements the source run never
        trained on (:mod:`noether.atoms.finetune`). None by default."""
        return []

    # ------------------------------------------------------------------------------ the API
    @property
    def message_hops(self) -> int:
        """How many neighbour hops an atom's energy reaches: it depends only on atoms joined to
        it by a chain of at most this many pairs within ``cutoff``, so its receptive field is
        ``message_hops * cutoff`` Å. Engines that hand the model one domain at a time (LAMMPS)
        need it; each model states its own (tests/atoms/test_lammps.py checks it is tight)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not state message_hops, the neighbour hops its atomic "
            "energies reach; define the property to run it in LAMMPS"
        )

    @property
    def hparams(self) -> dict:
        """The constructor arguments this model was built with (for checkpoints): the fields of
        its ``config`` dataclass when it has one."""
        config = getattr(self, "config", None)
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            return _jsonable(config_dict(config))
        return dict(self.__dict__.get("_hparams", {}))

    @property
    def dtype(self) -> torch.dtype:
        """The model's floating dtype (its parameters', else its buffers'); inputs are cast to it.
        A subclass ends its constructor with ``self.to(dtype)``."""
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return self.scale_shift.scale.dtype

    @property
    def device(self) -> torch.device:
        return self.scale_shift.scale.device

    def check_inputs(
        self, numbers: Tensor, positions: Tensor, batch: Tensor | None, cell: Tensor | None
    ) -> None:
        """Raise a clear error for bad shapes, dtypes, elements or non-finite positions."""
        if positions.ndim != 2 or positions.shape[-1] != 3:
            raise ValueError(
                f"positions must have shape (n_atoms, 3), got {tuple(positions.shape)}"
            )
        if numbers.shape != positions.shape[:1]:
            raise ValueError(
                f"numbers has shape {tuple(numbers.shape)} but positions has "
                f"{tuple(positions.shape)}; expected ({positions.shape[0]},)"
            )
        if numbers.is_floating_point() or numbers.dtype == torch.bool:
            raise TypeError(f"numbers must be an integer tensor, got {numbers.dtype}")
        if batch is not None and batch.shape != numbers.shape:
            raise ValueError(
                f"batch has shape {tuple(batch.shape)}, expected {tuple(numbers.shape)}"
            )

        def where(k: int) -> str:
            if batch is None:
                return f"frame 0, atom {k}"
            frame = int(batch[k])
            return f"frame {frame}, atom {k - int(torch.count_nonzero(batch[:k] < frame))}"

        check_elements(numbers, self.max_atomic_number, self.elements, where, type(self).__name__)
        finite = torch.isfinite(positions).all(dim=1)
        if not finite.all():
            k = int(torch.nonzero(~finite)[0, 0])
            raise ValueError(
                f"{where(k)}: positions {positions[k].tolist()} are not finite; accepted: finite Å"
            )
        if cell is not None and cell.shape[-2:] != (3, 3):
            raise ValueError(
                f"cell must have shape (n_graphs, 3, 3) or (3, 3), got {tuple(cell.shape)}"
            )

    def compile_inference(self, **options) -> Potential:
        """Run energy and first derivatives through ``torch.compile`` (inductor) from now on.

        Calls that need no second derivatives (``create_graph=False``: inference, MD, the ASE
        calculator) run :meth:`energy_from_pairs` compiled with dynamic shapes, so the number of
        atoms and pairs may change without recompiling; forces and stress come from its compiled
        backward. Calls with ``create_graph=True`` (training with a force loss) stay eager. The
        first call of each kind (one frame, several frames, with stress) compiles, which takes
        tens of seconds to minutes on a CPU. ``options`` go to ``torch.compile``. Returns ``self``.
        """
        options.setdefault("dynamic", True)
        # the unbound method, called with ``self``: a deep copy of the model computes with its own
        # parameters (dynamo guards on the module and recompiles for a new one)
        self._compiled_energy = torch.compile(type(self).energy_from_pairs, **options)
        self._inference_parameters = tuple(self.parameters())  # walking the modules costs per call
        return self

    def forward(
        self,
        numbers: Tensor,
        positions: Tensor,
        batch: Tensor | None = None,
        cell: Tensor | None = None,
        pbc: Tensor | None = None,
        *,
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool | None = None,
    ) -> dict[str, Tensor]:
        """Energies (and forces, stress) of ``G`` frames with ``N`` atoms in total.

        Args:
            numbers: ``(N,)`` atomic numbers. positions: ``(N, 3)`` Å.
            batch: ``(N,)`` sorted frame index (None: one frame).
            cell: ``(G, 3, 3)`` or ``(3, 3)`` Å. pbc: ``(G, 3)`` or ``(3,)`` bool.
            create_graph: keep the force graph for a force loss; default: ``self.training``.

        Returns:
            ``energy (G,)`` eV, ``atomic_energies (N,)`` eV, and when asked ``forces (N, 3)`` eV/Å
            and ``stress (G, 3, 3)`` eV/Å³.
        """
        self.check_inputs(numbers, positions, batch, cell)
        dtype, device = self.dtype, self.device
        numbers = numbers.to(device=device, dtype=torch.long)
        positions = positions.to(device=device, dtype=dtype)
        if batch is None:
            batch = torch.zeros_like(numbers)
        batch = batch.to(device=device, dtype=torch.long)
        n_graphs = int(batch.max()) + 1 if batch.numel() else 1
        cell = (
            torch.zeros(n_graphs, 3, 3, dtype=dtype, device=device)
            if cell is None
            else cell.to(device=device, dtype=dtype).reshape(-1, 3, 3).expand(n_graphs, 3, 3)
        )
        pbc = (
            torch.zeros(n_graphs, 3, dtype=torch.bool, device=device)
            if pbc is None
            else pbc.to(device=device, dtype=torch.bool).reshape(-1, 3).expand(n_graphs, 3)
        )
        if compute_stress:
            volume = torch.linalg.det(cell).abs()
            if (volume < 1e-8).any() or not pbc.any(dim=1).all():
                k = int(torch.nonzero((volume < 1e-8) | ~pbc.any(dim=1))[0, 0])
                raise ValueError(
                    f"frame {k}: stress needs a periodic frame with a cell of positive volume "
                    f"(got volume {float(volume[k]):.3g} Å³, pbc {pbc[k].tolist()})"
                )
        create_graph = self.training if create_graph is None else create_graph
        edge_index, shifts = neighbor_list(
            positions, self.cutoff, batch, cell, pbc, method=self.neighbor_method
        )
        with torch.enable_grad():
            if compute_forces and not positions.requires_grad:
                positions = positions.detach().requires_grad_(True)
            wrt = positions if compute_forces else None
            strain = None
            if compute_stress:
                strain = torch.zeros(n_graphs, 3, 3, dtype=dtype, device=device, requires_grad=True)
            energy_from_pairs, frozen = self.energy_from_pairs, []
            if self._compiled_energy is not None and not create_graph:
                energy_from_pairs = self._compiled_energy_from_pairs
                if compute_forces or compute_stress:
                    # the outputs are detached below, so no gradient can reach the parameters:
                    # freezing them spares the compiled backward the weight gradients
                    params = self._inference_parameters or self.parameters()
                    frozen = [p for p in params if p.requires_grad]
            try:
                for p in frozen:
                    p.requires_grad_(False)
                atomic, energy = energy_from_pairs(
                    numbers, positions, batch, n_graphs, cell, pbc, edge_index, shifts, strain
                )
                out = {"energy": energy, "atomic_energies": atomic}
                volume = torch.linalg.det(cell).abs() if compute_stress else None
                out.update(
                    energy_derivatives(energy, wrt, strain, volume, create_graph=create_graph)
                )
            finally:
                for p in frozen:
                    p.requires_grad_(True)
        if (compute_forces or compute_stress) and not create_graph:
            out = {k: v.detach() for k, v in out.items()}  # the graph is spent
        return out

    def _compiled_energy_from_pairs(self, *args) -> tuple[Tensor, Tensor]:
        """:meth:`energy_from_pairs` through the compiled function; if torch.compile itself
        fails, warn once and run eager from now on."""
        try:
            return self._compiled_energy(self, *args)
        except Exception as error:
            if not compile_failed(error):
                raise
            warnings.warn(
                f"{type(self).__name__}: torch.compile failed ({type(error).__name__}); "
                "running eager from now on",
                RuntimeWarning,
                stacklevel=3,
            )
            self._compiled_energy = None
            return self.energy_from_pairs(*args)

    def energy_from_pairs(
        self,
        numbers: Tensor,
        positions: Tensor,
        batch: Tensor,
        n_graphs: int,
        cell: Tensor,
        pbc: Tensor,
        edge_index: Tensor,
        shifts: Tensor,
        strain: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(atomic_energies (N,), energy (G,))`` in eV from a precomputed neighbour list.

        ``strain (G, 3, 3)``, when given, deforms positions and cell by ``(1 + sym(strain))``.
        """
        if strain is not None:
            sym = 0.5 * (strain + strain.transpose(1, 2))
            positions = positions + torch.einsum("ni,nij->nj", positions, sym[batch])
            cell = cell + torch.bmm(cell, sym)
        vectors = edge_vectors(positions, edge_index, shifts, cell, batch)
        graph = Graph(numbers, positions, batch, n_graphs, edge_index, vectors, cell, pbc)
        atomic = self.scale_shift(self.atomic_energies(graph)) + self.atomref(numbers)
        for prior in self.priors:
            atomic = atomic + prior(graph)
        return atomic, frame_sum(atomic, batch, n_graphs)

    def predict(self, batch, **kwargs) -> dict[str, Tensor]:
        """``forward`` on an :class:`~noether.atoms.batch.AtomsBatch`."""
        return self(batch.numbers, batch.positions, batch.batch, batch.cell, batch.pbc, **kwargs)
