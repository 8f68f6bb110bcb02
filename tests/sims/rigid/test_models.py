"""The GATr pipeline (tokens -> GATr -> points) is E(3)-equivariant when gravity and the ground
plane move with the scene, and only then; the Transformer is not equivariant."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from sims_testkit import random_scene
from torch import nn

from noether.algebra import PGA, pin_sample
from noether.core.config import config_dict
from noether.sims.rigid.models import (
    RigidGATr,
    RigidGATrConfig,
    RigidTransformer,
    RigidTransformerConfig,
)
from noether.sims.rigid.task import masked_mse
from noether.sims.rigid.tokens import pga_tokens
from noether.testing import check_e3, equivariance_error
from noether.train.config import build, load_config, read_yaml

KEYS = ("points", "com", "velocity", "angular_velocity", "gravity", "plane_normal", "plane_point")
ACTIONS = ("position", "position", "vector", "pseudovector", "vector", "vector", "position")


def _random_output_layer(model: nn.Module) -> None:
    """Undo the zero initialisation of the output layer, so the test sees the whole network."""
    torch.manual_seed(1)
    for p in model.output_layer.parameters():
        nn.init.normal_(p, std=0.5)


def _as_function(model, scene):
    def f(*values):
        return model({**scene, **dict(zip(KEYS, values))})

    return f, tuple(scene[k] for k in KEYS)


@pytest.fixture(scope="module")
def gatr():
    torch.manual_seed(0)
    model = RigidGATr(points_per_body=5, mv_channels=4, s_channels=8, blocks=2, heads=2).double()
    _random_output_layer(model)
    return model.eval()


def test_gatr_pipeline_is_se3_equivariant_in_float64(gatr):
    scene = random_scene()
    f, inputs = _as_function(gatr, scene)
    err = check_e3(f, inputs, ACTIONS, ("position",), det=1, scale=3.0, n_samples=3)
    assert err < 1e-9, err


def test_gatr_pipeline_is_equivariant_in_float32(gatr):
    model = RigidGATr(points_per_body=5, mv_channels=4, s_channels=8, blocks=2, heads=2)
    model.load_state_dict({k: v.float() for k, v in gatr.state_dict().items()})
    scene = {k: v.float() if v.is_floating_point() else v for k, v in random_scene().items()}
    f, inputs = _as_function(model.eval(), scene)
    err = check_e3(f, inputs, ACTIONS, ("position",), det=1, scale=3.0, n_samples=2)
    scale = f(*inputs).abs().max().item()
    assert err < 1e-4 * max(1.0, scale), (err, scale)


def test_gatr_uses_gravity_and_the_plane(gatr):
    """Moving the scene but not gravity and the plane changes the prediction: the inputs that
    break the symmetry are seen (a model that ignored them would pass this check's opposite)."""
    scene = random_scene()
    actions = (*ACTIONS[:4], "scalar", "scalar", "scalar")  # gravity and plane stay put
    f, inputs = _as_function(gatr, scene)
    err = check_e3(f, inputs, actions, ("position",), det=1, scale=3.0, n_samples=2)
    assert err > 1e-3, err


def test_gatr_network_is_pin_equivariant_on_tokens_with_reflections(gatr):
    scene = random_scene()
    mv, s = pga_tokens(scene)

    def f(mv, s):
        return gatr.net(mv, s, token_mask=scene["mask"])[0]

    err = equivariance_error(
        f, (mv, s), pin_sample(PGA, ("multivector", "scalar"), ("multivector",))
    )
    assert err < 1e-9, err


def test_padding_does_not_change_real_bodies(gatr):
    scene = random_scene(b=1)
    scene["mask"][:] = True
    scene["mask"][0, -1] = False
    full = gatr(scene)
    trimmed = {k: v[:, :-1] if v.ndim >= 3 or k == "mask" else v for k, v in scene.items()}
    trimmed["mask"] = scene["mask"][:, :-1]
    torch.testing.assert_close(gatr(trimmed), full[:, :-1], atol=1e-10, rtol=0)


def test_untrained_models_predict_no_motion():
    scene = {k: v.float() if v.is_floating_point() else v for k, v in random_scene().items()}
    for model in (RigidGATr(points_per_body=5), RigidTransformer(points_per_body=5)):
        torch.testing.assert_close(model(scene), scene["points"], atol=1e-5, rtol=0)


def test_transformer_is_not_equivariant():
    torch.manual_seed(0)
    model = RigidTransformer(points_per_body=5, channels=16, heads=2).double()
    _random_output_layer(model)
    scene = random_scene()
    f, inputs = _as_function(model, scene)
    assert check_e3(f, inputs, ACTIONS, ("position",), det=1, scale=3.0, n_samples=2) > 1e-3


def test_transformer_reads_out_only_the_displacements():
    """No unused outputs: they would add parameters and FLOPs to the scaling axes (the sizes of
    docs/scaling.md: 3.5k parameters for `xs`)."""
    model = RigidTransformer(points_per_body=10, channels=16, blocks=1, heads=2)
    assert model.output_layer.out_features == 3 * 10
    assert sum(p.numel() for p in model.parameters()) == 3518


CONFIGS = Path(__file__).parents[3] / "configs"


@pytest.mark.parametrize(
    ("cls", "config_cls", "options"),
    [
        (RigidGATr, RigidGATrConfig, {"points_per_body": 5, "blocks": 1, "algebra": "pga"}),
        (RigidTransformer, RigidTransformerConfig, {"points_per_body": 5, "channels": 16}),
    ],
)
def test_a_config_value_and_keywords_build_the_same_model(cls, config_cls, options):
    by_config, by_keywords = cls(config_cls(**options)), cls(**options)
    assert by_config.config == by_keywords.config == config_cls(**options)
    shapes = lambda m: {k: v.shape for k, v in m.state_dict().items()}  # noqa: E731
    assert shapes(by_config) == shapes(by_keywords)
    assert config_dict(by_config.config) == {**config_dict(config_cls()), **options}
    with pytest.raises(TypeError, match="unknown option"):
        cls(width=3)


@pytest.mark.parametrize("name", ["rigid-gatr.yaml", "rigid-transformer.yaml"])
def test_the_yaml_recipes_still_build(name, rigid_data):
    config = load_config(CONFIGS / name, [f"--task.path={rigid_data}"])
    model = build(config.model, "model")
    assert isinstance(model, RigidGATr if "gatr" in name else RigidTransformer)
    section = {k: v for k, v in read_yaml(CONFIGS / name)["model"].items() if k != "name"}
    assert {k: config_dict(model.config)[k] for k in section} == section


@pytest.mark.parametrize("poison", [math.nan, math.inf, -1e300])
@pytest.mark.parametrize("cls", [RigidGATr, RigidTransformer])
def test_padded_bodies_may_hold_anything(cls, poison):
    """NaN, infinity or huge values at padded bodies (scene and target) change neither the
    prediction at real bodies, nor the loss, nor any gradient, which all stay finite; the
    padded bodies' prediction is their input points."""
    torch.manual_seed(0)
    model = cls(points_per_body=5, blocks=1, heads=2).double()
    _random_output_layer(model)
    clean = random_scene(b=3)
    clean["mask"][1, 1:] = False
    clean["mask"][2, :] = False  # a scene without real bodies
    mask = clean["mask"]
    poisoned = dict(clean)
    for key in ("points", "com", "velocity", "angular_velocity", "scalars", "target"):
        keep = mask.reshape(*mask.shape, *([1] * (clean[key].ndim - 2)))
        poisoned[key] = torch.where(keep, clean[key], torch.full_like(clean[key], poison))

    def run(scene):
        model.zero_grad()
        scene = {k: v.clone().requires_grad_(v.is_floating_point()) for k, v in scene.items()}
        pred = model(scene)
        loss = masked_mse(pred, scene["target"], scene["mask"])
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        return pred.detach(), loss.detach(), grads, scene["points"].grad

    pred_c, loss_c, grads_c, points_c = run(clean)
    pred_p, loss_p, grads_p, points_p = run(poisoned)
    assert torch.isfinite(loss_p) and torch.equal(loss_c, loss_p)
    assert torch.equal(pred_c[mask], pred_p[mask])
    # padded bodies stay where they are, whatever they hold
    torch.testing.assert_close(
        pred_p[~mask], poisoned["points"][~mask], rtol=0, atol=0, equal_nan=True
    )
    assert all(torch.isfinite(g).all() and torch.equal(a, g) for a, g in zip(grads_c, grads_p))
    assert torch.isfinite(points_p).all() and torch.equal(points_c[mask], points_p[mask])
