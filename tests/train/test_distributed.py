"""The same command on 2 CPU processes (DDP, gloo) gives the single-process result."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from noether.train.config import load_config
from noether.train.csv_log import read_metrics
from noether.train.distributed import detect_launch, is_first_process
from noether.train.run import train

from .conftest import subprocess_env, tiny_config

# float64 so that the only difference, the order of the gradient sums, stays near round-off.
DDP = {
    "trainer": {"max_epochs": 2, "precision": "64"},
    "data": {"batch_size": 16, "eval_batch_size": 6},
}


def _slurm_env(rank: int, job: str) -> dict[str, str]:
    return {
        "SLURM_NTASKS": "2",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "1",
        "SLURM_PROCID": str(rank),
        "SLURM_LOCALID": str(rank),
        "SLURM_NODEID": "0",
        "SLURM_JOB_ID": job,
        "SLURM_JOB_NAME": "noether-test",
        "SLURM_NODELIST": "127.0.0.1",
        "MASTER_ADDR": "127.0.0.1",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(kind: str, config_path, run_root, timeout=240):
    env = subprocess_env()
    command = ["-m", "noether.cli", "train", str(config_path)]
    if kind == "torchrun":
        args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
        args += [*command, f"--run.dir={run_root / 'torchrun'}"]
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, out.stderr[-4000:]
        return run_root / "torchrun", out.stdout
    # SLURM: what `srun --ntasks=2` would start: two processes with SLURM_* variables. The run
    # folder is named from SLURM_JOB_ID, the same in both.
    port = str(_free_port())
    procs = []
    for rank in range(2):
        penv = {**env, **_slurm_env(rank, "4242"), "MASTER_PORT": port}
        args = [sys.executable, *command, f"--run.root={run_root}", "--run.name=slurm"]
        procs.append(
            subprocess.Popen(
                args, env=penv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-4000:]
    return run_root / "slurm-4242", outs[0][0]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(
            load_config(
                tiny_config(**DDP, run={"dir": str(tmp_path_factory.mktemp("one") / "one")})
            )
        )
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", ["torchrun", "slurm"])
def test_two_processes_match_one_with_the_same_global_batch(kind, single, tmp_path):
    config_path = tmp_path / "ddp.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config(**DDP)))
    run_dir, stdout = _launch(kind, config_path, tmp_path)
    assert "epoch 2/2" in stdout
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["world_size"] == 2 and meta["launcher"] == kind
    one, two = read_metrics(single / "metrics.csv"), read_metrics(run_dir / "metrics.csv")
    assert [sorted(r) for r in one] == [sorted(r) for r in two]
    for a, b in zip(one, two):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-12, abs=1e-14), (key, a, b)
    w1 = torch.load(single / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    w2 = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    for key in w1:
        assert w1[key].dtype == torch.float64
        np.testing.assert_allclose(w2[key].numpy(), w1[key].numpy(), rtol=1e-11, atol=1e-13)


def test_detect_launch_reads_the_launchers():
    assert detect_launch({}).kind == "single"
    torchrun = detect_launch(
        {"TORCHELASTIC_RUN_ID": "job7", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "RANK": "5"}
    )
    assert (torchrun.kind, torchrun.world_size, torchrun.devices, torchrun.num_nodes) == (
        "torchrun",
        8,
        4,
        2,
    )
    assert torchrun.rank == 5 and torchrun.job_id == "job7"
    assert detect_launch({"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "2"}).job_id is None
    # torchrun --standalone draws a random id: a rerun would name another folder
    standalone = {"TORCHELASTIC_RUN_ID": "0c3f2f8e-7a4b-4f9e-9d51-2b8f0a6c1e27", "WORLD_SIZE": "2"}
    assert detect_launch(standalone).job_id is None
    slurm = detect_launch(
        {
            **_slurm_env(1, "99"),
            "SLURM_NTASKS": "8",
            "SLURM_NNODES": "2",
            "SLURM_NTASKS_PER_NODE": "4(x2)",
        }
    )
    assert (slurm.kind, slurm.world_size, slurm.devices, slurm.num_nodes, slurm.job_id) == (
        "slurm",
        8,
        4,
        2,
        "99",
    )
    interactive = detect_launch({**_slurm_env(0, "1"), "SLURM_JOB_NAME": "bash"})
    assert interactive.kind == "single"


def test_only_the_first_process_is_first():
    # it alone takes the run folder's lock; processes Lightning starts itself (trainer.devices)
    # look like single launches but carry LOCAL_RANK / NODE_RANK
    single = detect_launch({})
    assert is_first_process(single, {}) and is_first_process(single, {"LOCAL_RANK": "0"})
    assert not is_first_process(single, {"LOCAL_RANK": "1", "WORLD_SIZE": "2"})
    assert not is_first_process(single, {"LOCAL_RANK": "0", "NODE_RANK": "1"})
    assert not is_first_process(detect_launch(_slurm_env(1, "5")), _slurm_env(1, "5"))
    assert is_first_process(detect_launch(_slurm_env(0, "5")), _slurm_env(0, "5"))


def test_multi_process_run_without_job_id_needs_a_run_dir(monkeypatch):
    from noether.train.config import ConfigError
    from noether.train.distributed import Launch
    from noether.train.rundir import resolve_run_dir

    config = load_config(tiny_config())
    launch = Launch("torchrun", 2, 0, 2, 1, None)
    monkeypatch.delenv("NOETHER_RUN_DIR", raising=False)
    with pytest.raises(ConfigError, match=r"pass --run.dir=runs/NAME"):
        resolve_run_dir(config, launch)
    assert str(resolve_run_dir(config, Launch("slurm", 2, 0, 2, 1, "77"))).endswith("-77")
    assert os.environ.get("NOETHER_RUN_DIR") is None


def test_torchrun_standalone_without_run_dir_is_refused_and_writes_nothing(tmp_path):
    config_path = tmp_path / "ddp.yaml"
    config_path.write_text(yaml.safe_dump(tiny_config(**DDP)))
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    args += ["-m", "noether.cli", "train", str(config_path), f"--run.root={tmp_path / 'runs'}"]
    out = subprocess.run(args, env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert out.returncode != 0
    assert "noether train: error: run.dir: a multi-process run without a job id" in out.stderr
    assert not (tmp_path / "runs").exists()
