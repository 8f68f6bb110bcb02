"""SIGTERM and SIGINT end a run with 143 / 130, last.ckpt written, and the command to continue."""

import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from noether.cli import main as cli_main
from noether.train.config import load_config
from noether.train.csv_log import read_metrics
from noether.train.run import train

from .conftest import subprocess_env, tiny_config
from .test_run_resume import assert_same_run

# 1024 training samples in batches of 4: 256 steps per epoch, long enough to signal mid-epoch.
LONG = {
    "task": {"n_samples": 1280},
    "data": {"batch_size": 4},
    "trainer": {"max_epochs": 2},
    "model": {"dropout": 0.1},
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("signals")
    config = root / "long.yaml"
    config.write_text(yaml.safe_dump(tiny_config(**LONG)))
    try:
        return train(load_config(config, [f"--run.dir={root / 'reference'}"])), config
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_with_a_checkpoint_and_the_resume_command(
    reference, tmp_path, signum, status
):
    reference_dir, config = reference
    run_dir = tmp_path / "stopped"
    proc = subprocess.Popen(
        [sys.executable, "-m", "noether.cli", "train", str(config), f"--run.dir={run_dir}"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(read_metrics(run_dir / "metrics.csv")) < 5:  # training, in its first epoch
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-3000:]
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    step = last["global_step"]
    assert 0 < step < 256  # mid-epoch 0: written on the way out
    assert err.strip().splitlines()[-1] == (
        f"noether train: stopped by {signum.name}; last.ckpt written at step {step}; "
        f"continue with: noether train --resume {run_dir}"
    )
    assert "Traceback" not in err and "epoch 1/2" not in out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert cli_main(["train", "--resume", str(run_dir)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert_same_run(reference_dir, run_dir)  # the stop lost nothing


def test_two_processes_stop_together_at_the_same_step(reference, tmp_path):
    _, config = reference
    run_dir = tmp_path / "ddp"
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    args += ["-m", "noether.cli", "train", str(config), f"--run.dir={run_dir}"]
    proc = subprocess.Popen(
        args, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while len(read_metrics(run_dir / "metrics.csv")) < 5:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # torchrun passes it to both processes
    _, err = proc.communicate(timeout=120)  # no process waits for the other
    step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"]
    line = f"noether train: stopped by SIGTERM; last.ckpt written at step {step}; continue with"
    assert err.count(line) == 1, err[-3000:]  # rank 0's line, once
    assert 0 < step < 256 and not (run_dir / "run.lock").exists()
