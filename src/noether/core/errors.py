"""The error of data a user gave: a file that cannot be read, or holds what cannot be used.

:class:`DataError` is a ``ValueError`` whose message is one line naming the file, the field (and
the frame) and what is accepted. The training stack's config check turns it into its one-line
error, and a command prints it without a traceback. Its parts are also attributes, for callers
that want them (``error.file``, ``error.field``, ``error.frame``, ``error.value``,
``error.accepted``); any of them may be None.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DataError"]


class DataError(ValueError):
    """Data that cannot be used, named: ``DataError("frame 3: positions contain nan; ...",
    file="md17.npz", field="positions", frame=3)`` reads ``md17.npz: frame 3: positions ...``.

    Args:
        message: what is wrong and what is accepted; prefixed with ``file`` unless it names it.
        file: the file (or folder) the data came from.
        field: the array, key or column at fault.
        frame: the frame (sample, row) at fault.
        value: the offending value.
        accepted: what would have been accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        field: str | None = None,
        frame: int | None = None,
        value: Any = None,
        accepted: str | None = None,
    ) -> None:
        file = None if file is None or str(file) == "" else str(file)
        if file is not None and file not in message:
            message = f"{file}: {message}"
        super().__init__(message)
        self.file, self.field, self.frame = file, field, frame
        self.value, self.accepted = value, accepted

    def __reduce__(self):
        # Rebuilt from the final message and the attributes (a data-loader worker pickles it).
        return (type(self), (self.args[0],), self.__dict__)
