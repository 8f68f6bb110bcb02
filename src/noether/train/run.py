"""``train``: from a config to a finished run folder, on one process or many, fresh or resumed."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch import nn

from noether.train.checkpoints import (
    BEST,
    LAST,
    AtomicCheckpointIO,
    CorruptCheckpointError,
    RunCheckpoints,
    read_checkpoint,
)
from noether.train.config import DEFAULT_SPLIT, Config, ConfigError, build, load_config
from noether.train.console import EpochLines, quiet_lightning, want_progress_bar
from noether.train.csv_log import RunCSVLogger
from noether.train.datamodule import TaskDataModule, load_splits, make_datamodule
from noether.train.distributed import Launch, detect_launch, is_first_process
from noether.train.finetune import freeze, initialise_from
from noether.train.lock import RunLock
from noether.train.module import TrainingModule
from noether.train.plots import CurvePlotter
from noether.train.rundir import (
    CONFIG,
    CURVE,
    ENV_RUN_DIR,
    METRICS,
    SPLITS,
    RunFolder,
    check_fresh,
    resolve_run_dir,
)
from noether.train.signals import RunInterrupted, StopOnSignal
from noether.train.trained import finish_best_checkpoint

# Keys a resumed run may change: how long it goes on and how it is run, not what it computes.
RESUMABLE_CHANGES = (
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.progress_bar",
    "trainer.checkpoint_every_n_steps",
    "trainer.log_every_n_steps",
    "trainer.tensorboard",
    "trainer.units",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "data.num_workers",
    "run.dir",
    "run.root",
    "run.name",
)


def resolve_precision(setting: str, accelerator: str) -> str:
    """Lightning's precision string for ``trainer.precision``."""
    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if setting == "auto":
        return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    if setting == "16-mixed" and not gpu:
        raise ConfigError(
            "trainer.precision: got '16-mixed', which needs a CUDA GPU; "
            "accepted here: 'auto', '32', '64', 'bf16-mixed'"
        )
    return {"32": "32-true", "64": "64-true"}.get(setting, setting)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def check_resume_changes(saved: Config, new: Config) -> None:
    """A resumed run continues the same computation: only :data:`RESUMABLE_CHANGES` may differ."""
    before, after = _flatten(saved.to_dict()), _flatten(new.to_dict())
    changed = sorted(
        k
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k) and k not in RESUMABLE_CHANGES
    )
    if changed:
        details = "; ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in changed)
        raise ConfigError(
            f"--resume continues a run exactly, but these keys differ from its config.yaml: "
            f"{details}; only {', '.join(RESUMABLE_CHANGES[:-3])} may change"
        )


def _resume_config(
    run_dir: Path, config: Config | str | Path | None, overrides: Sequence[str] | Mapping[str, Any]
) -> tuple[Config, Path | None, int | None]:
    """The config of a resumed run, its ``last.ckpt`` (None: restart from the beginning) and
    the last step whose metrics rows stay; refuses (reading only) what cannot continue."""
    saved_path = run_dir / CONFIG
    if not saved_path.is_file():
        raise ConfigError(f"--resume: {str(run_dir)!r} is not a run folder (no {CONFIG})")
    saved = load_config(saved_path)
    if config is None:
        new = load_config(saved_path, overrides)
    elif isinstance(config, Config):
        new = config
    else:
        new = load_config(config, overrides)
    if new.data.split is None:  # null: as resolved when the run started
        new.data.split = saved.data.split
    if saved.finetune.init_from is not None:
        # the constants its initialisation set (config.yaml), not the data's own fit
        for key in new.model.derived:
            if key in saved.model.options:
                new.model.options[key] = saved.model.options[key]
    check_resume_changes(saved, new)
    new.source = saved.source
    checkpoint = run_dir / "checkpoints" / LAST
    if not checkpoint.is_file():
        return new, None, None
    try:
        header = read_checkpoint(checkpoint, map_location="cpu", weights_only=False, mmap=True)
        step = int(header["global_step"])
        epochs = int(header["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except CorruptCheckpointError:
        raise  # names the file and what to do (best.ckpt, or train it again)
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(
            f"--resume: {checkpoint}: not a checkpoint of a noether run ({type(error).__name__}: "
            f"{error}); delete it to start the run again from the beginning"
        ) from None
    del header
    t = new.trainer
    if t.max_epochs < epochs:
        raise ConfigError(
            f"trainer.max_epochs: got {t.max_epochs}, but {run_dir} has trained {epochs} epochs; "
            f"accepted: {epochs} or more (--trainer.max_epochs=N)"
        )
    if 0 < t.max_steps < step:
        raise ConfigError(
            f"trainer.max_steps: got {t.max_steps}, but {run_dir} has trained {step} steps; "
            f"accepted: {step} or more, or -1"
        )
    if t.max_epochs == epochs or t.max_steps == step:
        raise RunFinished(
            f"{run_dir} has finished: it has trained {epochs} epochs and {step} steps "
            f"(trainer.max_epochs: {t.max_epochs}, max_steps: {t.max_steps}); nothing to do (to "
            f"train on, --trainer.max_epochs=N with N > {epochs})"
        )
    return new, checkpoint, step - 1  # metrics rows of steps 0 .. step-1 are done


class RunFinished(Exception):
    """A resumed run has nothing left to train (its message says so)."""


def resolve_split(config: Config, datamodule: Any, refuse: bool = True) -> None:
    """``data.split`` as used: the fractions when the stack splits the task's one dataset, null
    when the task splits its data itself, where fractions given in the config (``refuse``) are
    an error rather than silently ignored."""
    if isinstance(datamodule, TaskDataModule) and datamodule.mode == "fractions":
        config.data.split = tuple(config.data.split or DEFAULT_SPLIT)
        return
    if config.data.split is not None and refuse:
        raise ConfigError(
            f"data.split: got {list(config.data.split)}, which has no effect: task "
            f"{config.task.name!r} splits its data itself (see its own split options in "
            f"task:); accepted: no data.split (null)"
        )
    config.data.split = None


def check_batches(config: Config, datamodule: TaskDataModule, launch: Launch) -> None:
    """The global batch splits evenly over the processes and fits in the training set."""
    t, batch = config.trainer, config.data.batch_size
    world = (launch.devices if t.devices == "auto" else t.devices) * (
        launch.num_nodes if t.num_nodes == "auto" else t.num_nodes
    )
    if batch % world:
        raise ConfigError(
            f"data.batch_size: got {batch}, which {world} processes cannot share evenly; "
            f"accepted: a multiple of {world}"
        )
    n_train = len(datamodule.splits["train"])
    if datamodule.steps_per_epoch < 1:
        raise ConfigError(
            f"data.batch_size: got {batch}, more than the {n_train} training samples; "
            f"accepted: at most {n_train}"
        )
    for name in ("val", "test"):
        n = len(datamodule.splits[name])
        if 0 < n < world:
            raise ConfigError(
                f"data.split: the {name} split has {n} samples, fewer than the {world} processes"
            )


def _loggers(config: Config, run_dir: Path, keep_until_step: int | None) -> list:
    loggers: list = [RunCSVLogger(run_dir / METRICS, keep_until_step)]
    if config.trainer.tensorboard:
        from importlib.util import find_spec

        if find_spec("tensorboard") is None and find_spec("tensorboardX") is None:
            raise ConfigError(
                "trainer.tensorboard: true needs the tensorboard package "
                "(pip install tensorboard); accepted here: false"
            )
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(run_dir), name="tensorboard", version=""))
    return loggers


def make_trainer(
    config: Config,
    run_dir: Path,
    launch: Launch,
    callbacks: Sequence[Callback],
    keep_until_step: int | None,
    own_sampler: bool = True,
    stop: StopOnSignal | None = None,
) -> L.Trainer:
    """The Lightning Trainer of a run (DDP when there are several processes)."""
    t = config.trainer
    devices = launch.devices if t.devices == "auto" else t.devices
    num_nodes = launch.num_nodes if t.num_nodes == "auto" else t.num_nodes
    progress = want_progress_bar(t.progress_bar)
    stack: list[Callback] = [
        RunCheckpoints(run_dir / "checkpoints", t.checkpoint_every_n_steps, stop=stop)
    ]
    if config.optim.ema_decay is not None:
        stack.append(EMAWeightAveraging(decay=config.optim.ema_decay))
    stack.append(CurvePlotter(run_dir / METRICS, run_dir / CURVE))
    if not progress:
        stack.append(EpochLines(t.max_epochs, t.units))
    return L.Trainer(
        accelerator=t.accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy="ddp" if devices * num_nodes > 1 else "auto",
        precision=resolve_precision(t.precision, t.accelerator),
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        gradient_clip_val=config.optim.clip_grad_norm,
        gradient_clip_algorithm="norm",
        check_val_every_n_epoch=t.val_every_n_epochs,
        log_every_n_steps=t.log_every_n_steps,
        logger=_loggers(config, run_dir, keep_until_step),
        callbacks=[*callbacks, *stack],
        enable_checkpointing=True,  # with RunCheckpoints: Lightning adds no checkpoint of its own
        enable_progress_bar=progress,
        enable_model_summary=progress,
        num_sanity_val_steps=0,
        use_distributed_sampler=not own_sampler,
        inference_mode=False,
        deterministic=t.deterministic or None,
        default_root_dir=str(run_dir),
        plugins=[AtomicCheckpointIO()],
    )


def train(
    config: Config | str | Path | None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    resume: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Train a model on a task and return the run folder.

    Args:
        config: a :class:`Config`, a YAML file, or None with ``resume`` (the run's own config).
        overrides: ``["--optim.lr=3e-4"]`` or ``{"optim.lr": 3e-4}``; they win over the file.
        resume: a run folder to continue from its ``checkpoints/last.ckpt``, exactly; one
            stopped before its first checkpoint starts again from the beginning.
        callbacks: extra Lightning callbacks (they run before the stack's own).

    Raises:
        ConfigError: before anything is written (the run folder is as it was).
        RunFolderBusy: another process holds the run folder (:mod:`noether.train.lock`).
        RunInterrupted: SIGTERM or SIGINT stopped the run (:mod:`noether.train.signals`).
    """
    quiet_lightning()
    launch = detect_launch()
    first = is_first_process(launch)
    with StopOnSignal() as stop:
        if resume is not None:
            run_dir = Path(resume)
            if not run_dir.is_dir():
                raise ConfigError(
                    f"--resume: {str(run_dir)!r} is not a run folder (no such folder)"
                )
        else:
            if config is None:
                raise ConfigError("give a config file, or --resume RUN_DIR to continue a run")
            if not isinstance(config, Config):
                config = load_config(config, overrides)
            run_dir = resolve_run_dir(config, launch)
        # One writer per run folder; the folder is checked once it is held, reading only, so
        # a refused command leaves it as it was.
        lock = RunLock.acquire(run_dir) if first else None
        try:
            return _train(config, overrides, resume, callbacks, launch, run_dir, stop)
        except SIGTERMException:  # Lightning's own handler, if a signal came before ours
            raise RunInterrupted(signal.SIGTERM) from None
        except RunInterrupted as interrupted:
            interrupted.run_dir = run_dir
            interrupted.resumable = (run_dir / CONFIG).is_file()
            raise
        finally:
            if lock is not None:
                lock.release()


def _train(
    config: Config | str | Path | None,
    overrides: Sequence[str] | Mapping[str, Any],
    resume: str | Path | None,
    callbacks: Sequence[Callback],
    launch: Launch,
    run_dir: Path,
    stop: StopOnSignal,
) -> Path:
    keep_until_step = None
    checkpoint = None
    splits = None
    if resume is not None:
        try:
            config, checkpoint, keep_until_step = _resume_config(run_dir, config, overrides)
        except RunFinished as finished:  # as a rerun of make: done, and nothing written
            if is_first_process(launch):
                print(finished, flush=True)
            return run_dir
        if (run_dir / SPLITS).is_file():
            splits = load_splits(run_dir / SPLITS)
        if checkpoint is None and is_first_process(launch):
            print(
                f"{run_dir}: no checkpoint yet (stopped before its first one); starting it again "
                f"from the beginning with its {CONFIG} and {SPLITS}",
                flush=True,
            )
    else:
        assert isinstance(config, Config)
        check_fresh(run_dir)
    config.run.dir = str(run_dir)
    os.environ[ENV_RUN_DIR] = str(run_dir)

    L.seed_everything(config.seed, workers=True, verbose=False)
    task = build(config.task, "task")
    if task.edits_model_before_validation and config.optim.ema_decay is not None:
        raise ConfigError(
            f"task {config.task.name!r} re-fits part of the model before each validation, which "
            f"weight averaging (optim.ema_decay: {config.optim.ema_decay}) would undo; accepted: "
            "optim.ema_decay: null, or the task option that re-fits turned off"
        )
    if config.trainer.units is not None:
        try:
            task.unit_conversions(config.trainer.units)
        except ValueError as error:
            raise ConfigError(f"trainer.units: {error}") from error
    model = build(config.model, "model")
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model.name: {config.model.name!r} built a {type(model).__name__}; accepted: an nn.Module"
        )
    # finetune: the same weights frozen on every start and resume; the source's weights read
    # on a fresh start (or a restart before the first checkpoint), never on a resume
    first = is_first_process(launch) and checkpoint is None
    frozen, total = freeze(model, config.finetune.freeze)
    if config.finetune.init_from is not None and checkpoint is None:
        if resolve_precision(config.trainer.precision, config.trainer.accelerator) == "64-true":
            model = model.double()  # a float64 source must not pass through float32
        initialise_from(model, config, task, log=lambda line: first and print(line, flush=True))
    if frozen and first:
        print(f"frozen: {', '.join(config.finetune.freeze)} ({frozen} of {total} weights)")
    try:
        datamodule = make_datamodule(task, config.data, config.seed, splits)
    except (ValueError, OSError) as error:
        raise ConfigError(f"task {config.task.name!r}: cannot set up its data: {error}") from error
    continuing = resume is not None
    resolve_split(config, datamodule, refuse=not continuing)
    if isinstance(datamodule, TaskDataModule):
        check_batches(config, datamodule, launch)
        module = TrainingModule(model, task, config, datamodule.steps_per_epoch)
        folder = RunFolder(
            run_dir, config, launch, datamodule.splits, datamodule.mode, checkpoint, continuing
        )
    else:  # the task's own LightningDataModule: its loaders, Lightning's distributed sampler
        module = TrainingModule(model, task, config, None)
        folder = RunFolder(run_dir, config, launch, None, "datamodule", checkpoint, continuing)
    trainer = make_trainer(
        config,
        run_dir,
        launch,
        [folder, *callbacks],
        keep_until_step,
        own_sampler=isinstance(datamodule, TaskDataModule),
        stop=stop,
    )
    # In the training precision before Lightning copies the weights into an EMA or loads a
    # checkpoint into them (both happen before Lightning itself would convert the model): a
    # float64 run must not pass through float32 on a resume.
    module = trainer.precision_plugin.convert_module(module)
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint, weights_only=False)
    if trainer.is_global_zero:
        if finish_best_checkpoint(run_dir / "checkpoints", task):
            print(f"{run_dir / 'checkpoints' / BEST}: finished by task {config.task.name!r}")
        best = trainer.callback_metrics.get("val/loss")
        print(f"run folder: {run_dir}")
        if best is not None:
            print(f"last val/loss: {float(best):.4g}; evaluate with: noether evaluate {run_dir}")
    _close_process_group()
    return run_dir


def _close_process_group() -> None:
    """End a distributed run's process group (Lightning leaves it open): every process waits
    for the others, then the group is destroyed. Left to the interpreter's exit, the gloo
    group's threads were sometimes still joinable there, and a process aborted with "terminate
    called without an active exception" after a finished run (seen once in CI, torchrun)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
