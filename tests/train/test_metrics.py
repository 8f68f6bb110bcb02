import math

import pytest
import torch

from noether.train.metrics import EpochMetrics


def test_epoch_metrics_are_exact_over_uneven_batches():
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(23, 3, generator=generator)
    ref = torch.randn(23, 3, generator=generator)
    losses = []
    metrics = EpochMetrics()
    for lo, hi in ((0, 10), (10, 11), (11, 23)):
        loss = ((pred[lo:hi] - ref[lo:hi]) ** 2).mean()
        losses.append((loss.item(), hi - lo))
        metrics.update_loss(loss, hi - lo)
        metrics.update("f", pred[lo:hi], ref[lo:hi])
    out = metrics.compute()
    err = pred.double() - ref.double()
    assert out["f_mae"] == pytest.approx(err.abs().mean().item(), rel=1e-12)
    assert out["f_rmse"] == pytest.approx(err.pow(2).mean().sqrt().item(), rel=1e-12)
    assert out["loss"] == pytest.approx(sum(l * n for l, n in losses) / 23, rel=1e-12)
    # a reduction over processes sums the tensors: two identical processes give the same means
    doubled = metrics.compute(lambda t: 2 * t)
    assert doubled["f_rmse"] == pytest.approx(out["f_rmse"], rel=1e-12)


def test_metrics_reset_and_shape_check():
    metrics = EpochMetrics()
    assert math.isnan(metrics.compute()["loss"])
    with pytest.raises(
        ValueError, match=r"'e' predicted shape \(2,\) differs from the reference shape \(3,\)"
    ):
        metrics.update("e", torch.zeros(2), torch.zeros(3))
