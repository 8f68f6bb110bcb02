"""The order of training samples: a pure function of (seed, epoch), sharded over processes.

Every process draws the same permutation of the training set for an epoch, cuts it into global
batches of ``batch_size`` (the incomplete last one is dropped) and takes its own contiguous slice
of each: with world size W, process r gets samples ``[r*B/W, (r+1)*B/W)`` of every global batch.
One process with batch B and W processes with B/W each therefore see the same global batches,
so DDP's gradient average equals the single-process gradient.

A resumed run starts from ``(epoch, batches already done)`` and yields the rest of that epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def epoch_permutation(n: int, seed: int, epoch: int, shuffle: bool = True) -> torch.Tensor:
    """The order of ``n`` training samples in ``epoch``: ``(n,)`` int64."""
    if not shuffle:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=generator)


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of one process: each ``iter()`` is one epoch, the next epoch after the last one.

    Args:
        n: number of training samples.
        batch_size: global batch size (all processes together).
        seed: base seed of the shuffling.
        rank, world_size: this process and the number of processes.
        shuffle: reshuffle every epoch (else the natural order).
        start: ``(epoch, batches done in it)`` to resume from; ``(0, 0)`` for a fresh run.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        start: tuple[int, int] = (0, 0),
    ) -> None:
        if batch_size % world_size:
            raise ValueError(
                f"data.batch_size={batch_size} cannot be split evenly over {world_size} processes; "
                f"use a multiple of {world_size}"
            )
        if n < batch_size:
            raise ValueError(
                f"the training set has {n} samples, fewer than one batch "
                f"(data.batch_size={batch_size}); lower data.batch_size"
            )
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.local_batch = batch_size // world_size
        epoch, done = start
        if done >= len(self):
            epoch, done = epoch + 1, 0
        self._next = (epoch, done)

    def __len__(self) -> int:
        """Batches in a full epoch (also when resuming part-way through one)."""
        return self.n // self.batch_size

    def batches(self, epoch: int) -> torch.Tensor:
        """This process's batches of ``epoch``: ``(len(self), batch_size / world_size)``."""
        order = epoch_permutation(self.n, self.seed, epoch, self.shuffle)
        full = order[: len(self) * self.batch_size].view(len(self), self.batch_size)
        lo = self.rank * self.local_batch
        return full[:, lo : lo + self.local_batch]

    def __iter__(self) -> Iterator[list[int]]:
        # A generator: the epoch is claimed when the first batch is drawn, not when iter() is
        # called, so an iterator that is made and dropped unused does not skip an epoch.
        epoch, done = self._next
        self._next = (epoch + 1, 0)
        for row in self.batches(epoch)[done:]:
            yield row.tolist()
