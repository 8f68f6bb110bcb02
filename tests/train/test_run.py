"""One real training of the toy task, then its run folder and its evaluation."""

import json

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from noether import __version__
from noether.cli import main as cli_main
from noether.core.registry import register_task
from noether.train.checkpoints import load_checkpoint
from noether.train.config import ConfigError, load_config
from noether.train.csv_log import read_metrics
from noether.train.evaluate import evaluate
from noether.train.run import train
from noether.train.toy import ToyMLP, ToyRegression, toy_data

from .conftest import tiny_config

PNG = b"\x89PNG\r\n\x1a\n"
LEARN = {
    "task": {"n_samples": 640},
    "model": {"hidden": 32, "activation": "gelu"},
    "data": {"batch_size": 16},
    "optim": {"lr": 0.02},
    "schedule": {"warmup_steps": 10},
    "trainer": {"max_epochs": 6},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    config = load_config(tiny_config(**LEARN, run={"dir": str(run_dir)}))
    try:
        train(config)
    finally:
        torch.set_num_threads(threads)
    return run_dir


def test_the_toy_model_learns(run):
    val = [r["val/loss"] for r in read_metrics(run / "metrics.csv") if "val/loss" in r]
    assert len(val) == 6
    assert val[-1] < 0.25 * val[0], val


def test_run_folder_holds_everything(run):
    config = load_config(run / "config.yaml")
    assert config.model.options["activation"] == "gelu" and config.run.dir == str(run)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["versions"]["noether"] == __version__
    assert meta["world_size"] == 1 and meta["launcher"] == "single"
    with np.load(run / "splits.npz") as splits:
        parts = [splits[f"idx_{k}"] for k in ("train", "val", "test")]
    assert [len(p) for p in parts] == [480, 80, 80]
    assert sorted(np.concatenate(parts).tolist()) == list(range(640))
    rows = read_metrics(run / "metrics.csv")
    steps = [r["step"] for r in rows if "train/loss" in r]
    assert steps == list(range(6 * 30))
    assert all(np.isfinite(r["lr"]) for r in rows if "lr" in r)
    assert (run / "learning_curve.png").read_bytes().startswith(PNG)
    best = load_checkpoint(run / "checkpoints" / "best.ckpt")
    last = load_checkpoint(run / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 180 and last["epoch"] == 5
    val = [r["val/loss"] for r in rows if "val/loss" in r]
    assert best["callbacks"]["RunCheckpoints"]["best"] == pytest.approx(min(val))
    assert not list((run / "checkpoints").glob(".*"))  # no temporary files left behind


def test_evaluate_matches_a_direct_computation(run, capsys):
    results = evaluate(run)
    checkpoint = load_checkpoint(run / "checkpoints" / "best.ckpt")
    config = load_config(run / "config.yaml")
    model = ToyMLP(**config.model.options)
    model.load_state_dict({k[len("model.") :]: v for k, v in checkpoint["state_dict"].items()})
    x, y = toy_data(640, data_seed=0)
    with np.load(run / "splits.npz") as splits:
        test = torch.from_numpy(splits["idx_test"])
    with torch.no_grad():
        err = (model(x[test]) - y[test]).double()
    assert results["samples"] == 80
    assert results["y_mae"] == pytest.approx(err.abs().mean().item(), rel=1e-5)
    assert results["y_rmse"] == pytest.approx(err.pow(2).mean().sqrt().item(), rel=1e-5)
    assert results["loss"] == pytest.approx(err.pow(2).mean().item(), rel=1e-5)
    out = capsys.readouterr().out
    assert "quantity" in out and "MAE" in out and "RMSE" in out
    assert (run / "evaluation" / "test_parity_y.png").read_bytes().startswith(PNG)
    saved = json.loads((run / "evaluation" / "test_metrics.json").read_text())
    assert saved["y_mae"] == results["y_mae"]


def test_evaluate_command_on_a_checkpoint_file(run, tmp_path, capsys):
    code = cli_main(
        [
            "evaluate",
            str(run / "checkpoints" / "last.ckpt"),
            "--split",
            "val",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "val split of" in out and "last weights (epoch 6, step 180)" in out
    val = [r for r in read_metrics(run / "metrics.csv") if "val/loss" in r][-1]
    saved = json.loads((tmp_path / "val_metrics.json").read_text())
    assert saved["loss"] == pytest.approx(val["val/loss"], rel=1e-6)
    # the epoch the training console printed for these weights ("epoch 6/6"), counted from 1
    assert saved["epoch"] == 6 and saved["global_step"] == 180
    assert (tmp_path / "val_parity_y.png").is_file()
    assert cli_main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "neither a run folder nor a checkpoint file" in capsys.readouterr().err


def test_quiet_logs_without_a_terminal(tmp_path, capfd):
    train(load_config(tiny_config(trainer={"max_epochs": 1}, run={"dir": str(tmp_path / "q")})))
    out, err = capfd.readouterr()
    assert "epoch 1/1  train/loss" in out
    assert "GPU available" not in out + err and "LOCAL_RANK" not in out + err
    config = yaml.safe_load((tmp_path / "q" / "config.yaml").read_text())
    assert config["trainer"]["progress_bar"] is False


def test_fresh_run_refuses_an_existing_run_folder(run):
    from noether.train.config import ConfigError

    with pytest.raises(ConfigError, match="already holds a run; continue it with"):
        train(load_config(tiny_config(run={"dir": str(run)})))


def test_bf16_mixed_precision_on_cpu(tmp_path):
    config = tiny_config(
        trainer={"max_epochs": 1, "precision": "bf16-mixed"}, run={"dir": str(tmp_path / "bf16")}
    )
    run_dir = train(load_config(config))
    losses = [r["train/loss"] for r in read_metrics(run_dir / "metrics.csv") if "train/loss" in r]
    assert len(losses) == 6 and all(np.isfinite(losses))


def test_hdf5_shards_with_workers_train_exactly_like_memory(tmp_path):
    from noether.train.toy import main as write_toy

    assert (
        write_toy([str(tmp_path / "shards"), "--n-samples", "128", "--samples-per-shard", "40"])
        == 0
    )
    assert len(list((tmp_path / "shards").glob("*.h5"))) == 4
    sections = {"trainer": {"max_epochs": 2}}
    memory = train(load_config(tiny_config(**sections, run={"dir": str(tmp_path / "memory")})))
    sharded = tiny_config(
        **sections,
        task={"shards": str(tmp_path / "shards")},
        data={"num_workers": 2},
        run={"dir": str(tmp_path / "sharded")},
    )
    sharded = train(load_config(sharded))
    assert read_metrics(memory / "metrics.csv") == read_metrics(sharded / "metrics.csv")


class _ToyDataModule(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        x, y = toy_data(96, data_seed=1)
        self.parts = {
            "train": [{"x": a, "y": b} for a, b in zip(x[:64], y[:64])],
            "val": [{"x": a, "y": b} for a, b in zip(x[64:80], y[64:80])],
            "test": [{"x": a, "y": b} for a, b in zip(x[80:], y[80:])],
        }

    def train_dataloader(self):
        return DataLoader(self.parts["train"], batch_size=16, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.parts["val"], batch_size=16)

    def test_dataloader(self):
        return DataLoader(self.parts["test"], batch_size=16)


@register_task("test-own-datamodule")
class _OwnDataTask(ToyRegression):
    def datasets(self):
        return _ToyDataModule()


def test_a_task_may_bring_its_own_lightning_datamodule(tmp_path):
    config = tiny_config(task={"name": "test-own-datamodule"}, run={"dir": str(tmp_path / "dm")})
    del config["data"]["split"]  # the data module splits the data: fractions are refused
    run_dir = train(load_config(config))
    rows = read_metrics(run_dir / "metrics.csv")
    assert len([r for r in rows if "train/loss" in r]) == 3 * 4
    assert not (run_dir / "splits.npz").exists()
    assert "LightningDataModule" in json.loads((run_dir / "meta.json").read_text())["splits"]
    results = evaluate(run_dir, plots=False, verbose=False)
    assert results["samples"] == 16 and np.isfinite(results["y_rmse"])


class _RecordWeights(L.Callback):
    """The model's weights after every optimiser step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append({k: v.detach().clone() for k, v in pl_module.state_dict().items()})


def test_ema_is_the_running_average_and_validation_and_evaluate_use_it(tmp_path):
    from noether.train.checkpoints import LAST

    decay = 0.9
    record = _RecordWeights()
    config = tiny_config(
        optim={"ema_decay": decay},
        trainer={"max_epochs": 2, "precision": "64"},
        run={"dir": str(tmp_path / "ema")},
    )
    run_dir = train(load_config(config), callbacks=[record])
    assert len(record.steps) == 12  # 96 training samples, batch 16, 2 epochs
    expected = dict(record.steps[0])  # the first update copies the weights
    for weights in record.steps[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * weights[k] for k in expected}
    last = load_checkpoint(run_dir / "checkpoints" / LAST)
    current = last["current_model_state"]
    for key, value in expected.items():
        torch.testing.assert_close(last["state_dict"][key], value, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(current[key], record.steps[-1][key], rtol=0, atol=0)
    assert any(not torch.allclose(expected[k], current[k]) for k in expected)  # EMA != raw

    # validation logged the averaged weights' loss; evaluate gives it in float64 from last.ckpt
    x, y = toy_data(128, data_seed=0)
    with np.load(run_dir / "splits.npz") as splits:
        idx = torch.from_numpy(splits["idx_val"])

    def val_loss(state: dict[str, torch.Tensor]) -> float:
        model = ToyMLP(**load_config(run_dir / "config.yaml").model.options).double()
        model.load_state_dict({k[len("model.") :]: v for k, v in state.items()})
        with torch.no_grad():
            return (model(x[idx].double()) - y[idx].double()).pow(2).mean().item()

    val = [r["val/loss"] for r in read_metrics(run_dir / "metrics.csv") if "val/loss" in r]
    results = evaluate(run_dir, split="val", prefer=LAST, plots=False, verbose=False)
    assert results["loss"] == pytest.approx(val_loss(last["state_dict"]), rel=1e-12)
    assert float(np.float32(results["loss"])) == val[-1]  # Lightning logs metrics in float32
    assert val_loss(current) != pytest.approx(val[-1], rel=1e-3)  # not the current weights

    # the trained model of the run: float64 weights loaded without rounding, the averaged ones
    from noether.train.trained import load_trained_model

    model = load_trained_model(run_dir, prefer=LAST)
    assert not model.training
    for key, value in model.state_dict().items():
        assert value.dtype == torch.float64
        torch.testing.assert_close(value, last["state_dict"]["model." + key], rtol=0, atol=0)


def test_evaluate_refuses_energy_units_for_a_run_without_energies(run, tmp_path, capsys):
    out = tmp_path / "e"
    assert cli_main(["evaluate", str(run), "--out", str(out), "--energy-unit", "kcal/mol"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "noether evaluate: error: this run's task (toy-regression) reports no energy or forces"
    )
    assert err.count("\n") == 1 and not out.exists()
    with pytest.raises(ValueError, match="reports no forces"):
        evaluate(run, out=out, units={"forces": ("meV/Å", 1.0, "eV/Å")})


def test_trainer_units_are_refused_for_a_task_without_units_to_change(tmp_path):
    with pytest.raises(ConfigError, match=r"trainer.units: 'kcal/mol': task ToyRegression has no"):
        train(
            load_config(
                tiny_config(trainer={"units": "kcal/mol"}, run={"dir": str(tmp_path / "r")})
            )
        )
    assert not (tmp_path / "r").exists()
