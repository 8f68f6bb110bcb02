import pytest
import torch

from noether.train.sampler import EpochBatchSampler


def _epochs(sampler, n):
    return [list(sampler) for _ in range(n)]


def test_processes_split_the_same_global_batches():
    one = _epochs(EpochBatchSampler(50, 8, seed=1), 3)
    ranks = [_epochs(EpochBatchSampler(50, 8, seed=1, rank=r, world_size=4), 3) for r in range(4)]
    for epoch in range(3):
        assert len(one[epoch]) == 50 // 8
        for b, batch in enumerate(one[epoch]):
            joined = [i for r in range(4) for i in ranks[r][epoch][b]]
            assert joined == batch
    assert one[0] != one[1]  # reshuffled every epoch
    flat = [i for batch in one[0] for i in batch]
    assert len(set(flat)) == len(flat) == 48  # no repeats, the incomplete batch dropped


def test_order_is_a_function_of_seed_and_epoch():
    a, b = EpochBatchSampler(40, 4, seed=5), EpochBatchSampler(40, 4, seed=5)
    assert _epochs(a, 2) == _epochs(b, 2)
    assert list(EpochBatchSampler(40, 4, seed=6)) != _epochs(EpochBatchSampler(40, 4, seed=5), 1)[0]
    assert list(EpochBatchSampler(12, 4, seed=0, shuffle=False)) == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
    ]


def test_resume_mid_epoch_and_at_epoch_end():
    full = _epochs(EpochBatchSampler(40, 4, seed=2), 3)
    resumed = EpochBatchSampler(40, 4, seed=2, start=(1, 3))
    assert len(resumed) == 10  # Lightning counts batches of a whole epoch
    assert list(resumed) == full[1][3:]
    assert list(resumed) == full[2]
    at_end = EpochBatchSampler(40, 4, seed=2, start=(1, 10))
    assert list(at_end) == full[2]


def test_an_unused_iterator_does_not_use_up_an_epoch():
    sampler = EpochBatchSampler(20, 4, seed=0)
    iter(sampler)  # made and dropped, as a data loader may do
    assert list(sampler) == list(EpochBatchSampler(20, 4, seed=0))


def test_bad_sizes_are_explained():
    with pytest.raises(ValueError, match="batch_size=10 cannot be split evenly over 4 processes"):
        EpochBatchSampler(100, 10, seed=0, world_size=4)
    with pytest.raises(ValueError, match="training set has 3 samples, fewer than one batch"):
        EpochBatchSampler(3, 4, seed=0)


def test_batches_shape():
    sampler = EpochBatchSampler(33, 8, seed=0, rank=1, world_size=2)
    assert sampler.batches(0).shape == (4, 4)
    assert sampler.batches(0).dtype == torch.int64
