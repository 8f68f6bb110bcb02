"""One writer per run folder: an OS lock on ``<run>/run.lock``.

The lock is ``fcntl.flock`` on the file: the kernel releases it when the holding process ends,
however it ends (a crash or SIGKILL included), so a killed run never leaves its folder locked. A
second process that asks for a held lock is refused at once with the holder's PID and host,
which the holder writes into the file. Only the first process of a multi-process run takes it
(the others write nothing into the folder).

A process that created the lock file removes it when it lets go, and removes the folders it
created for it if they are still empty; one that found the file (left by a killed process:
harmless, the kernel holds no lock on it) puts its text back. So a command that is refused
after taking the lock leaves the disk as it found it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
from pathlib import Path

from noether.train.validation import ConfigError

LOCK = "run.lock"

# errno values of a filesystem that does not support flock (some network filesystems)
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class RunFolderBusy(ConfigError):
    """Another process holds the run folder's lock."""


class RunLock:
    """The held lock of one run folder; :meth:`release` lets go (also done by the kernel at
    exit). ``RunLock.acquire(run_dir)`` takes it or raises :class:`RunFolderBusy`."""

    def __init__(
        self, path: Path, fd: int | None, created_file: bool, created_dirs: list[Path]
    ) -> None:
        self.path, self._fd = path, fd
        self._created_file, self._created_dirs = created_file, created_dirs
        self._left = b""

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        run_dir = Path(run_dir)
        created_dirs, parent = [], run_dir
        while not parent.exists():
            created_dirs.append(parent)
            parent = parent.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK
        while True:
            try:
                fd, created = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), True
            except FileExistsError:
                try:
                    fd, created = os.open(path, os.O_RDWR), False
                except FileNotFoundError:  # removed by a holder letting go: try again
                    continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                _remove_dirs(created_dirs)
                raise RunFolderBusy(
                    f"run folder {str(run_dir)!r} is in use by {holder or 'another process'} "
                    f"({path} is locked); wait for it to end or stop it, then run this again"
                ) from None
            except OSError as error:
                if error.errno not in _NO_LOCKS:
                    raise
                os.close(fd)
                if created:
                    path.unlink(missing_ok=True)
                print(
                    f"noether train: warning: {run_dir}: this filesystem has no file locks "
                    f"({error.strerror}); nothing stops a second process writing this run",
                    file=sys.stderr,
                )
                return cls(path, None, False, created_dirs)
            # The file we locked must still be the one at the path: a holder that created it
            # removes it when it lets go, and a lock on a removed file guards nothing.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        lock = cls(path, fd, created, created_dirs)
        lock._left = os.pread(fd, 4096, 0)  # what a killed holder left: put back on release
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        return lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Let go; remove the lock file and the folders this process created, if empty."""
        if self._fd is not None:
            if self._created_file:
                self.path.unlink(missing_ok=True)  # while still held: see acquire
            else:  # the file as this process found it
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, self._left, 0)
            os.close(self._fd)
            self._fd = None
        _remove_dirs(self._created_dirs)
        self._created_dirs = []


def _remove_dirs(dirs: list[Path]) -> None:
    for folder in dirs:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty: it holds a run now
            return
