import itertools
import math

import pytest
import torch

from noether.train.config import ScheduleConfig
from noether.train.schedules import apply_warmup, cosine_factor, lightning_scheduler, warmup_factor


def test_warmup_and_cosine_factors():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    assert cosine_factor(4, 4, 104) == 1.0
    assert cosine_factor(54, 4, 104) == pytest.approx(0.5)
    assert cosine_factor(104, 4, 104, min_ratio=0.1) == pytest.approx(0.1)
    assert cosine_factor(500, 4, 104, min_ratio=0.1) == pytest.approx(0.1)
    values = [cosine_factor(s, 4, 104) for s in range(4, 105)]
    assert all(a >= b for a, b in itertools.pairwise(values))  # monotone decay after warm-up


def _optimizer(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_cosine_scheduler_follows_the_factor():
    opt = _optimizer(2.0)
    entry = lightning_scheduler(
        opt, ScheduleConfig(name="cosine", warmup_steps=2, min_lr_ratio=0.0), 10
    )
    assert entry["interval"] == "step"
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        entry["scheduler"].step()
    assert seen == pytest.approx([2.0 * cosine_factor(s, 2, 10) for s in range(10)])


def test_plateau_reduces_after_patience_and_keeps_warmup_separate():
    opt = _optimizer(1.0)
    entry = lightning_scheduler(opt, ScheduleConfig(name="plateau", factor=0.5, patience=1), 0)
    assert entry["monitor"] == "val/loss" and entry["interval"] == "epoch"
    lrs = []
    for val_loss in (1.0, 1.0, 1.0, 1.0, 1.0, 0.5):
        entry["scheduler"].step(val_loss)
        lrs.append(opt.param_groups[0]["lr"])
    # best at the first epoch; more than `patience` epochs without improvement halve the rate
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25])
    opt = _optimizer(0.8)
    apply_warmup(opt, 0, 4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
    apply_warmup(opt, 3, 4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.8)
    opt.param_groups[0]["lr"] = 0.1  # a plateau reduction after warm-up is left alone
    apply_warmup(opt, 4, 4)
    assert opt.param_groups[0]["lr"] == 0.1
    assert math.isclose(opt.param_groups[0]["initial_lr"], 0.8)
