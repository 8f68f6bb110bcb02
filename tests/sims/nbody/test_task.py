import math

import numpy as np
import pytest
import torch

from noether.sims.nbody.task import NBodyTask, RepeatedDataset, load_systems
from noether.testing import check_e3, check_permutation


def _batch(nbody_dir, split="test", n=6):
    arrays = load_systems(nbody_dir, split)
    return {k: v[:n].double() for k, v in arrays.items()}


def _predict(task, model, batch):
    def fn(m, x, v):
        return task.forward(model, {"masses": m, "x_initial": x, "v_initial": v})

    return fn, (batch["masses"], batch["x_initial"], batch["v_initial"])


@pytest.mark.parametrize("name", ["ega", "pga", "cga"])
def test_predictions_of_an_equivariant_model_move_with_the_system(name, nbody_dir, tiny_geometric):
    """Through tokens, model and extraction, in float64: E(3) for EGA and CGA, SE(3) for PGA
    (its point tokens are reflection-covariant only up to sign, see nbody_tokens), and
    permutations of the bodies."""
    task = NBodyTask(nbody_dir)
    model = tiny_geometric(name).double().eval()
    fn, inputs = _predict(task, model, _batch(nbody_dir))
    det = 1 if name == "pga" else None
    actions = ("scalar", "position", "vector")
    err = check_e3(fn, inputs, actions, ("position",), det=det, n_samples=6)
    assert err < 1e-10
    assert check_permutation(fn, inputs, (1, 1, 1), (1,)) < 1e-12
    moved = fn(*inputs)
    assert (moved - inputs[1]).abs().max() > 1e-3  # the model does predict motion


@pytest.mark.parametrize("variant", ["ega", "pga", "ipga", "cga"])
def test_gatr_predictions_move_with_the_system(variant, nbody_dir):
    """The real GATr of every variant through the task, float64, at the systems' scale: E(3)
    for EGA and CGA. PGA and iPGA are SE(3)-equivariant from coordinates but not under
    reflections: a reflection reverses the weight of a PGA point (see nbody_tokens) and GATr's
    e0 maps and join do not commute with that."""
    from noether.gatr import GATr

    torch.manual_seed(0)
    model = (
        GATr(
            algebra=variant,
            in_mv_channels=3,
            out_mv_channels=1,
            hidden_mv_channels=4,
            in_s_channels=1,
            out_s_channels=1,
            hidden_s_channels=8,
            num_blocks=2,
            num_heads=2,
        )
        .double()
        .eval()
    )
    fn, inputs = _predict(NBodyTask(nbody_dir), model, _batch(nbody_dir, n=4))
    actions = ("scalar", "position", "vector"), ("position",)
    proper = check_e3(fn, inputs, *actions, det=1, scale=1.0, n_samples=2)
    improper = check_e3(fn, inputs, *actions, det=-1, scale=1.0, n_samples=2)
    assert proper < 1e-10
    if variant in ("pga", "ipga"):
        # far above float64 rounding (the proper error): not reflection-equivariant; how far
        # depends on the size of the e0 maps and joins at initialisation (7e-7 measured)
        assert improper > 1e-8
    else:
        assert improper < 1e-10
    assert check_permutation(fn, inputs, (1, 1, 1), (1,), n_samples=2) < 1e-12


def test_float32_pipeline_is_equivariant_to_working_precision(nbody_dir, tiny_geometric):
    """At the systems' own scale (translations of 1). CGA embeds |x|^2 / 2, so in float32 its
    rounding error grows with the square of the distance from the origin: about 4e-4 at
    translations of 10 (checked below), which is why the translated test set is worth having."""
    task = NBodyTask(nbody_dir)
    batch = {k: v.float() for k, v in _batch(nbody_dir).items()}
    actions = ("scalar", "position", "vector"), ("position",)
    for name in ("ega", "pga", "cga"):
        fn, inputs = _predict(task, tiny_geometric(name).eval(), batch)
        det = 1 if name == "pga" else None
        assert check_e3(fn, inputs, *actions, det=det, scale=1.0) < 1e-4, name
        far = check_e3(fn, inputs, *actions, det=det, scale=10.0)
        assert far < (2e-3 if name == "cga" else 1e-4), name


def test_raw_models_are_not_equivariant_and_augmentation_is_undone(nbody_dir, tiny_raw):
    batch = _batch(nbody_dir)
    task = NBodyTask(nbody_dir)
    fn, inputs = _predict(task, tiny_raw().double().eval(), batch)
    assert check_e3(fn, inputs, ("scalar", "position", "vector"), ("position",)) > 1e-3


def test_augmentation_leaves_an_equivariant_models_predictions_unchanged(
    nbody_dir, tiny_geometric, tiny_raw
):
    """With augmentation the prediction is g^-1 f(g x): the same as f(x) for an E(3)-equivariant
    f (so the inverse map is right), different for a raw model (so the map is applied)."""
    batch = _batch(nbody_dir)
    plain, augmented = NBodyTask(nbody_dir), NBodyTask(nbody_dir, augment=True, augment_shift=20.0)
    model = tiny_geometric("cga").double().train()
    assert torch.allclose(augmented.forward(model, batch), plain.forward(model, batch), atol=1e-9)
    raw = tiny_raw().double().train()
    assert (augmented.forward(raw, batch) - plain.forward(raw, batch)).abs().max() > 1e-3
    raw.eval()  # no augmentation outside training
    assert torch.equal(augmented.forward(raw, batch), plain.forward(raw, batch))


def test_datasets_follow_the_options(nbody_dir):
    splits = NBodyTask(nbody_dir, n_train=10, n_val=4, epoch_size=64).datasets()
    assert isinstance(splits.train, RepeatedDataset) and len(splits.train) == 64
    assert len(splits.val) == 4 and len(splits.test) == 16
    first, again = splits.train[3], splits.train[13]
    assert all(torch.equal(first[k], again[k]) for k in first)
    full = load_systems(nbody_dir, "train")
    assert torch.equal(first["x_initial"], full["x_initial"][3])
    more = NBodyTask(nbody_dir, test_set="test_more_bodies").datasets().test
    assert more[0]["x_initial"].shape == (6, 3)


def test_loss_is_the_mse_and_compare_reports_final_positions(nbody_dir):
    task = NBodyTask(nbody_dir)
    batch = _batch(nbody_dir)
    pred = batch["x_final"] + 0.1
    assert math.isclose(task.loss(pred, batch).item(), 0.01, rel_tol=1e-9)
    ((p, r),) = task.compare(pred, batch).values()
    assert p is pred and r is batch["x_final"]


def test_bad_options_and_data_are_refused(nbody_dir, tmp_path):
    with pytest.raises(ValueError, match="n_train"):
        NBodyTask(nbody_dir, n_train=0)
    with pytest.raises(ValueError, match="test_set"):
        NBodyTask(nbody_dir, test_set="train")
    with pytest.raises(ValueError, match="augment_shift"):
        NBodyTask(nbody_dir, augment_shift=-1.0)
    with pytest.raises(ValueError, match="holds 64"):
        NBodyTask(nbody_dir, n_train=65).datasets()
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(ValueError, match=r"meta\.json"):
        NBodyTask(str(broken))
    (broken / "meta.json").write_text(open(f"{nbody_dir}/meta.json").read())
    for name in ("train", "val", "test"):
        with np.load(f"{nbody_dir}/{name}.npz") as npz:
            arrays = dict(npz)
        if name == "val":
            arrays["v_initial"][0, 0, 0] = np.nan
        np.savez(broken / f"{name}.npz", **arrays)
    with pytest.raises(ValueError, match="v_initial holds non-finite"):
        NBodyTask(str(broken)).datasets()
