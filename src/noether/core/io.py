"""Files that are never seen half-written, and figures saved the same way everywhere.

Everything is written to a temporary file beside the target and moved onto it with
``os.replace``: a crash or kill at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "new_file_mode",
    "save_figure",
]


def new_file_mode() -> int:
    """The permissions ``open`` gives a new file (``0o666`` less the process umask); temporary
    files are created ``0o600`` and get these before they replace the target."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success move it onto ``path``.

    For writers that want a file name (``h5py``, ``np.savez``, ``fig.savefig``). On an exception
    the temporary file is removed and ``path`` is left as it was. ``suffix`` keeps an extension
    that a writer needs to see (``".png"``, ``".npz"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".tmp"
        )
    except OSError as error:  # name the folder, which the user chose, not a temporary file
        raise type(error)(error.errno, error.strerror, str(path.parent)) from error
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, new_file_mode())
        os.replace(tmp_path, path)
    except OSError as error:
        if error.errno in _FULL:  # name the user's file, not the temporary one
            if tmp_path.exists():
                os.truncate(tmp_path, 0)
            raise OSError(error.errno, os.strerror(error.errno), str(path)) from error
        raise
    except RuntimeError as error:
        # Writers in C++ (torch.save's zip writer: "unexpected pos 47552 vs 47440") report a
        # full disk as a RuntimeError that names neither the cause nor the file.
        if _disk_full(path.parent):
            # Free the space now: such a writer still open retries its last write when it is
            # destroyed, and a C++ destructor that throws ends the process.
            os.truncate(tmp_path, 0)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from error
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _disk_full(folder: Path) -> bool:
    """Whether the file system of ``folder`` has no room left for an ordinary user."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(file)`` on an open temporary file beside ``path`` (flushed and synced), then
    move it onto ``path``. Returns ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda file: file.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    return atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120, tight: bool = True) -> Path:
    """Write a matplotlib figure as PNG atomically and close it. Returns ``path``."""
    import matplotlib.pyplot as plt  # matplotlib is heavy: only when a figure is saved

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
