"""How this process was launched: alone, by torchrun, or by SLURM's srun.

The same ``noether train`` command runs under each; the number of processes per node and of
nodes comes from the launcher's environment unless the config sets ``trainer.devices`` and
``trainer.num_nodes``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Launch:
    """Processes of this run as the launcher reports them."""

    kind: str  # "single", "torchrun" or "slurm"
    world_size: int
    rank: int
    devices: int  # processes per node
    num_nodes: int
    job_id: str | None  # shared by every process of the run, if the launcher gives one; not
    # torchrun --standalone's random id, which a rerun of the same command would not repeat


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(env.get(key, default))
    except ValueError:
        return default


def _slurm_tasks_per_node(env: Mapping[str, str], ntasks: int, nodes: int) -> int:
    raw = env.get("SLURM_NTASKS_PER_NODE", "")
    # "2" or "2(x3)": take the count before any repetition marker.
    head = raw.split("(")[0].split(",")[0]
    if head.isdigit():
        return int(head)
    return max(ntasks // max(nodes, 1), 1)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def detect_launch(env: Mapping[str, str] | None = None) -> Launch:
    """Read the launcher's environment variables (``os.environ`` by default)."""
    env = os.environ if env is None else env
    if "TORCHELASTIC_RUN_ID" in env or ("LOCAL_WORLD_SIZE" in env and "WORLD_SIZE" in env):
        world = _int(env, "WORLD_SIZE", 1)
        local = _int(env, "LOCAL_WORLD_SIZE", world)
        run_id = env.get("TORCHELASTIC_RUN_ID")
        if run_id and _is_uuid(run_id):  # drawn at random by --standalone: names no job
            run_id = None
        return Launch(
            kind="torchrun",
            world_size=world,
            rank=_int(env, "RANK", 0),
            devices=local,
            num_nodes=max(world // max(local, 1), 1),
            job_id=run_id if run_id and run_id != "none" else None,
        )
    # SLURM, by the rule Lightning's SLURMEnvironment uses: SLURM_NTASKS is set and the job is
    # not an interactive shell (job name "bash" or "interactive").
    if "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        ntasks = _int(env, "SLURM_NTASKS", 1)
        nodes = _int(env, "SLURM_NNODES", _int(env, "SLURM_JOB_NUM_NODES", 1))
        return Launch(
            kind="slurm",
            world_size=ntasks,
            rank=_int(env, "SLURM_PROCID", 0),
            devices=_slurm_tasks_per_node(env, ntasks, nodes),
            num_nodes=nodes,
            job_id=env.get("SLURM_JOB_ID"),
        )
    return Launch(kind="single", world_size=1, rank=0, devices=1, num_nodes=1, job_id=None)


def is_first_process(launch: Launch, env: Mapping[str, str] | None = None) -> bool:
    """Whether this is the run's process of rank 0: by the launcher's rank, and for processes
    Lightning itself started (``trainer.devices`` > 1) by their ``LOCAL_RANK`` and ``NODE_RANK``."""
    env = os.environ if env is None else env
    return launch.rank == 0 and _int(env, "LOCAL_RANK", 0) == 0 and _int(env, "NODE_RANK", 0) == 0
