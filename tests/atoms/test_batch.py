import torch
from torch.utils.data import DataLoader

from noether.atoms.batch import AtomsBatch, collate_atoms


def test_flat_batch_has_no_padding(mixed):
    batch = AtomsBatch.from_dataset(mixed, [0, 1, 2, 3])
    assert batch.positions.shape == (14, 3)
    assert batch.batch.tolist() == [0] * 3 + [1] * 5 + [2] * 2 + [3] * 4
    assert batch.ptr.tolist() == [0, 3, 8, 10, 14] and batch.n_graphs == 4
    assert batch.energy_mask.tolist() == [True, False, True, True]
    assert batch.pbc[2].all() and not batch.pbc[0].any()


def test_collate_equals_slicing(mixed):
    loader = DataLoader(mixed, batch_size=3, shuffle=False, collate_fn=collate_atoms)
    first = next(iter(loader))
    sliced = AtomsBatch.from_dataset(mixed, [0, 1, 2])
    for name in (
        "numbers",
        "positions",
        "batch",
        "ptr",
        "cell",
        "pbc",
        "energy",
        "forces",
        "stress",
        "charges",
        "energy_mask",
        "forces_mask",
        "stress_mask",
    ):
        assert torch.equal(getattr(first, name), getattr(sliced, name)), name


def test_to_casts_floats_only(ethanol_like):
    batch = AtomsBatch.from_dataset(ethanol_like, [1, 2]).to(dtype=torch.float32)
    assert batch.positions.dtype == torch.float32 and batch.numbers.dtype == torch.int64
