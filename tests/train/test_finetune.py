"""Fine-tuning on the training stack: a run starts from another run's weights, some frozen."""

import pytest
import torch

from noether.core.checkpoints import load_trained_model
from noether.train.config import ConfigError, load_config
from noether.train.finetune import freeze, parameter_prefixes
from noether.train.run import train

from .conftest import tiny_config
from .test_run_resume import Crash, assert_same_run


def _weights(run, name="best.ckpt"):
    state = torch.load(run / "checkpoints" / name, weights_only=False)["state_dict"]
    return {k: v.clone() for k, v in state.items()}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A trained toy run (seed 3) to start from."""
    run = tmp_path_factory.mktemp("source") / "run"
    return train(load_config(tiny_config(run={"dir": str(run)})))


def _finetune(tmp, name, source, callbacks=(), **finetune):
    config = tiny_config(
        seed=5,  # another seed: its own initialisation differs from the source's weights
        task={"data_seed": 1},
        optim={"lr": 0.002},
        trainer={"max_epochs": 2, "checkpoint_every_n_steps": 4},
        finetune={"init_from": str(source), **finetune},
        run={"dir": str(tmp / name)},
    )
    return train(load_config(config), callbacks=callbacks)


class Stop(Crash):
    """Stop before the first optimiser step, so the run's starting weights can be read."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.weights = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}
        raise RuntimeError("stopped before the first step")


def test_the_weights_loaded_are_the_source_runs(source, tmp_path, capsys):
    stop = Stop(0)
    with pytest.raises(RuntimeError, match="stopped before the first step"):
        _finetune(tmp_path, "ft", source, callbacks=[stop])
    expected = load_trained_model(source).state_dict()
    assert stop.weights.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(stop.weights[key], value), key
    assert f"initialised from {source}/checkpoints/best.ckpt" in capsys.readouterr().out
    # without finetune.init_from the same config starts from its own initialisation
    fresh = Stop(0)
    config = tiny_config(seed=5, task={"data_seed": 1}, run={"dir": str(tmp_path / "scratch")})
    with pytest.raises(RuntimeError):
        train(load_config(config), callbacks=[fresh])
    assert not torch.equal(fresh.weights["net.0.weight"], expected["net.0.weight"])


def test_frozen_parameters_do_not_change_and_the_others_do(source, tmp_path):
    run = _finetune(tmp_path, "ft", source, freeze=["net.0"])
    before, after = load_trained_model(source).state_dict(), _weights(run, "last.ckpt")
    for key, value in before.items():
        moved = not torch.equal(after["model." + key], value)
        assert moved == (not key.startswith("net.0.")), key


def test_a_killed_finetuning_run_resumes_exactly_from_its_own_checkpoint(source, tmp_path):
    whole = _finetune(tmp_path, "whole", source, freeze=["net.2"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        _finetune(tmp_path, "crashed", source, callbacks=[Crash(7)], freeze=["net.2"])
    # the source may be gone: a resume reads only the run's own checkpoint
    (source / "checkpoints" / "best.ckpt").rename(tmp_path / "away.ckpt")
    (source / "checkpoints" / "last.ckpt").rename(tmp_path / "away-last.ckpt")
    try:
        train(None, resume=tmp_path / "crashed")
    finally:
        (tmp_path / "away.ckpt").rename(source / "checkpoints" / "best.ckpt")
        (tmp_path / "away-last.ckpt").rename(source / "checkpoints" / "last.ckpt")
    assert_same_run(whole, tmp_path / "crashed")


def test_an_incompatible_model_is_one_line_naming_the_keys(source, tmp_path):
    config = tiny_config(
        model={"hidden": 8},
        finetune={"init_from": str(source)},
        run={"dir": str(tmp_path / "x")},
    )
    with pytest.raises(ConfigError) as error:
        train(load_config(config))
    message = str(error.value)
    assert "incompatible model (model.hidden: 16 there, 8 here)" in message
    assert "\n" not in message and not (tmp_path / "x" / "config.yaml").exists()
    config["model"] = {"name": "transformer"}
    with pytest.raises(ConfigError, match=r"model\.name: 'toy-mlp' there, 'transformer' here"):
        train(load_config(config))


def test_a_missing_source_is_refused(tmp_path):
    config = tiny_config(
        finetune={"init_from": str(tmp_path / "nowhere")}, run={"dir": str(tmp_path / "x")}
    )
    with pytest.raises(ConfigError, match=r"finetune\.init_from: .*nowhere.* is neither a run"):
        train(load_config(config))
    assert not (tmp_path / "x").exists()


def test_an_unknown_prefix_lists_those_that_exist():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    with pytest.raises(ConfigError) as error:
        freeze(model, ["0", "2"])
    assert "finetune.freeze: '2' names no parameter" in str(error.value)
    assert str(error.value).endswith("such as 0, 1")
    # a prefix ends at a dot: "0.w" is not "0.weight"
    with pytest.raises(ConfigError, match=r"'0\.w' names no parameter"):
        freeze(model, ["0.w"])
    assert freeze(model, ["0.weight", "1"]) == (6 + 4, 13)
    assert [p.requires_grad for p in model.parameters()] == [False, True, False, False]


def test_parameter_prefixes_show_list_indices():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(4, 2)
            self.layers = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(2))

    assert parameter_prefixes(Net()) == ["embedding", "layers.0", "layers.1"]
