"""A run folder has one writer; a refused command changes nothing; a killed run continues.

Real processes throughout: a second ``noether train`` against a folder that a live process
holds, runs killed with SIGKILL before their first checkpoint and later, and the folder hashed
before and after every refused command.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from noether.cli import main as cli_main
from noether.train.config import load_config
from noether.train.lock import LOCK, RunFolderBusy, RunLock
from noether.train.run import train

from .conftest import subprocess_env, tiny_config
from .test_run_resume import assert_same_run

SECTIONS = {"trainer": {"max_epochs": 2}, "model": {"dropout": 0.1}}


def folder_hash(path) -> str:
    """Names, contents and modification times of every file under ``path``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
        digest.update(str(file.stat().st_mtime_ns).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run (2 epochs of 6 steps) and its config file."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("finished")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(**SECTIONS)))
    try:
        run_dir = train(load_config(config, [f"--run.dir={root / 'run'}"]))
    finally:
        torch.set_num_threads(threads)
    return run_dir, config


HOLD = """
import sys, time
from pathlib import Path
from noether.train.lock import RunLock
lock = RunLock.acquire(sys.argv[1])
Path(sys.argv[2]).write_text("held")
time.sleep(120)
"""


def _holder(run_dir, tmp_path):
    """A live process that holds the run folder's lock (as a training run does)."""
    ready = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir), str(ready)], env=subprocess_env()
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_a_second_writer_is_refused_at_once_naming_the_holder(finished, tmp_path, capsys):
    run_dir, config = finished
    before = folder_hash(run_dir)
    holder = _holder(run_dir, tmp_path)
    try:
        for argv in (
            ["train", "--resume", str(run_dir), "--trainer.max_epochs=4"],
            ["train", str(config), f"--run.dir={run_dir}"],
        ):
            start = time.monotonic()
            assert cli_main(argv) == 2
            assert time.monotonic() - start < 5  # before any data is read
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1
            assert f"run folder {str(run_dir)!r} is in use by PID {holder.pid} on " in err
        # the kernel releases the lock of a killed process: no stale lock
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        with pytest.raises(RunFolderBusy):  # nor can a process take it twice
            lock = RunLock.acquire(run_dir)
            try:
                RunLock.acquire(run_dir)
            finally:
                lock.release()
    finally:
        holder.kill()
        holder.wait(30)
    # left by the killed holder, its text put back by the process that took the lock after it
    assert (run_dir / LOCK).read_text().startswith(f"PID {holder.pid} on ")
    (run_dir / LOCK).unlink()
    assert folder_hash(run_dir) == before


def test_refused_commands_change_nothing_on_disk(finished, tmp_path, capsys):
    run_dir, config = finished
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    for name in ("config.yaml", "meta.json", "splits.npz", "metrics.csv"):
        (truncated / name).write_bytes((run_dir / name).read_bytes())
    (truncated / "checkpoints").mkdir()
    whole = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    (truncated / "checkpoints" / "last.ckpt").write_bytes(whole[: len(whole) // 2])
    empty = tmp_path / "empty"
    empty.mkdir()
    refusals = [
        (["train", "--resume", str(run_dir), "--optim.lrr=1"], run_dir, "unknown key optim.lrr"),
        (["train", "--resume", str(run_dir), "--optim.lr=0.5"], run_dir, "optim.lr: 0.01 -> 0.5"),
        (["train", "--resume", str(run_dir), "--trainer.max_epochs=1"], run_dir, "trained 2"),
        (["train", str(config), f"--run.dir={run_dir}"], run_dir, "already holds a run"),
        (["train", str(config), f"--run.dir={run_dir}", "--data.batch_size=0"], run_dir, "got 0"),
        (["train", "--resume", str(empty)], empty, "is not a run folder"),
        (
            ["train", "--resume", str(truncated)],
            truncated,
            "last.ckpt: cannot read the checkpoint: the file is truncated",
        ),
        (
            ["train", str(config), f"--run.dir={tmp_path / 'new' / 'run'}", "--data.batch_size=97"],
            tmp_path,
            "more than the 96 training samples",
        ),
    ]
    for argv, folder, message in refusals:
        before = folder_hash(folder), sorted(p.name for p in folder.rglob("*"))
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (argv, err)
        assert (folder_hash(folder), sorted(p.name for p in folder.rglob("*"))) == before, argv
    assert not (tmp_path / "new").exists()  # refused after taking the lock: folders removed

    # a finished run resumed as it is: nothing to do, status 0 (a requeue that comes too late)
    before = folder_hash(run_dir)
    assert cli_main(["train", "--resume", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{run_dir} has finished: it has trained 2 epochs and 12 steps (trainer.max_epochs: 2, "
        "max_steps: -1); nothing to do (to train on, --trainer.max_epochs=N with N > 2)"
    )
    assert folder_hash(run_dir) == before


KILLED = """
import os, signal, sys
import lightning as L
from noether.train.config import load_config
from noether.train.run import train

class Kill(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

train(load_config(sys.argv[1], ["--run.dir=" + sys.argv[2]]), callbacks=[Kill()])
"""


def requeue(config, run_dir) -> list[str]:
    """The SLURM requeue recipe of docs/training.md: --resume once the folder holds a run."""
    resume = ["--resume", str(run_dir)] if (run_dir / "config.yaml").is_file() else []
    return ["train", str(config), f"--run.dir={run_dir}", *resume]


@pytest.mark.parametrize("step", [3, 9])  # before the first checkpoint (step 6); mid-epoch 1
def test_a_run_killed_at_any_step_continues_with_the_documented_command(
    finished, tmp_path, capsys, step
):
    reference, config = finished
    run_dir = tmp_path / "killed"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED, str(config), str(run_dir), str(step)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() == (step > 6)
    assert (run_dir / LOCK).is_file()  # left behind, but not held
    capsys.readouterr()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert cli_main(requeue(config, run_dir)) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert ("no checkpoint yet (stopped before its first one); starting it again" in out) == (
        step < 6
    )
    assert_same_run(reference, run_dir)


def test_a_fresh_run_that_is_refused_after_the_lock_leaves_no_folder(tmp_path):
    run_dir = tmp_path / "a" / "b"
    lock = RunLock.acquire(run_dir)
    assert (run_dir / LOCK).read_text() == f"PID {os.getpid()} on {os.uname().nodename}\n"
    lock.release()
    assert list(tmp_path.iterdir()) == []
