"""A resumed run continues exactly: its curve and weights equal those of an uninterrupted run."""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from noether.cli import main as cli_main
from noether.core.io import atomic_write
from noether.train.config import ConfigError, load_config
from noether.train.csv_log import read_metrics
from noether.train.run import train

from .conftest import subprocess_env, tiny_config

# Dropout (the global RNG), EMA, warm-up + cosine, clipping, a checkpoint every 4 steps (epochs
# are 6 steps long).
STEPPED = {
    "trainer": {"max_epochs": 3, "checkpoint_every_n_steps": 4},
    "optim": {"ema_decay": 0.9},
    "model": {"dropout": 0.1},
}
PLATEAU = {
    "trainer": {"max_epochs": 3},
    "schedule": {"name": "plateau", "warmup_steps": 3, "patience": 0, "factor": 0.5},
}


class Crash(Callback):
    """Raise before the optimiser step ``step`` (0-based), as a crash would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


def _run(tmp, name, sections, callbacks=()):
    return train(
        load_config(tiny_config(**sections, run={"dir": str(tmp / name)})), callbacks=callbacks
    )


def _weights(run_dir):
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    return checkpoint["state_dict"], checkpoint.get("current_model_state")


def assert_same_run(a, b):
    rows_a, rows_b = read_metrics(a / "metrics.csv"), read_metrics(b / "metrics.csv")
    assert len(rows_a) == len(rows_b) and rows_a == rows_b  # exact, value for value
    (avg_a, cur_a), (avg_b, cur_b) = _weights(a), _weights(b)
    for key in avg_a:
        assert torch.equal(avg_a[key], avg_b[key]), key
    if cur_a is not None:
        for key in cur_a:
            assert torch.equal(cur_a[key], cur_b[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(tmp_path_factory.mktemp("ref"), "stepped", STEPPED)
    finally:
        torch.set_num_threads(threads)


def test_crash_mid_epoch_resumes_exactly(reference, tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path, "b", STEPPED, [Crash(10)])  # the last checkpoint is at step 8, mid-epoch 1
    header = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=False)
    assert header["global_step"] == 8 and header["noether"]["position"] == [1, 2]
    resumed = train(None, resume=tmp_path / "b")
    assert_same_run(reference, resumed)
    meta = json.loads((resumed / "meta.json").read_text())
    assert len(meta["resumes"]) == 1 and meta["resumes"][0]["checkpoint"].endswith("last.ckpt")


def test_crash_after_an_epoch_resumes_exactly_with_plateau_schedule(tmp_path, capsys):
    reference = _run(tmp_path, "a", PLATEAU)
    lrs = [r["lr"] for r in read_metrics(reference / "metrics.csv") if "lr" in r]
    assert lrs[:3] == pytest.approx([0.01 / 3, 0.02 / 3, 0.01])  # warm-up
    with pytest.raises(RuntimeError):
        _run(tmp_path, "b", PLATEAU, [Crash(7)])  # last checkpoint: the end of epoch 0
    capsys.readouterr()
    resumed = train(None, resume=tmp_path / "b")
    assert_same_run(reference, resumed)
    epoch_lines = [line for line in capsys.readouterr().out.splitlines() if "train/loss" in line]
    assert epoch_lines and not any("train/loss nan" in line for line in epoch_lines)


def test_float64_run_with_ema_resumes_exactly(tmp_path):
    # the weights and their average stay float64 through the checkpoint and the resume
    sections = {**STEPPED, "trainer": {**STEPPED["trainer"], "max_epochs": 2, "precision": "64"}}
    reference = _run(tmp_path, "a", sections)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path, "b", sections, [Crash(10)])
    resumed = train(None, resume=tmp_path / "b")
    assert_same_run(reference, resumed)
    averaged, current = _weights(resumed)
    assert {w.dtype for w in [*averaged.values(), *current.values()]} == {torch.float64}


KILLER = """
import os, signal, sys
import torch
import noether.train.checkpoints  # noqa: F401  (AtomicCheckpointIO calls torch.save)
real_save = torch.save

def save(obj, file, *args, **kwargs):
    if isinstance(obj, dict) and obj.get("global_step") == 10:
        file.write(b"half a checkpoint")  # then die in the middle of writing
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, file, *args, **kwargs)

torch.save = save
from noether.cli import main
main(["train", sys.argv[1], "--trainer.checkpoint_every_n_steps=2", "--run.dir=" + sys.argv[2]])
"""


def test_killed_mid_epoch_while_writing_keeps_last_checkpoint_and_resumes(reference, tmp_path):
    config = tmp_path / "stepped.yaml"
    config.write_text(yaml.safe_dump(tiny_config(**STEPPED)))
    run_dir = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(config), str(run_dir)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    leftovers = list((run_dir / "checkpoints").glob(".last.ckpt.*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == b"half a checkpoint"
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 8  # the previous checkpoint, whole
    assert cli_main(["train", "--resume", str(run_dir)]) == 0
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))
    assert_same_run(reference, run_dir)


def test_resume_refuses_a_different_computation(reference, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"optim\.lr: 0\.01 -> 0\.5; only trainer\.max_epochs"):
        train(None, ["--optim.lr=0.5"], resume=reference)
    with pytest.raises(ConfigError, match="is not a run folder"):
        train(None, resume=tmp_path)
    assert cli_main(["train"]) == 2
    assert "give a config file, or --resume RUN_DIR" in capsys.readouterr().err


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def failing(file):
        file.write(b"new but incomplete")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_atomic_writes_give_the_permissions_of_a_plain_open(tmp_path):
    import os

    from noether.core.io import atomic_path

    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", lambda f: f.write(b"x"))
        with atomic_path(tmp_path / "b.txt") as path:
            path.write_text("x")
        (tmp_path / "c.txt").write_text("x")
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    finally:
        os.umask(mask)
    assert modes == {"a.bin": 0o644, "b.txt": 0o644, "c.txt": 0o644}
