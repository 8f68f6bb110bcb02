"""Atomic writes: a write that the operating system refuses (file size limit, the errno of a full
quota) leaves the previous file as it was, no temporary file, and an OSError naming the target.
Runs without root: the limit is RLIMIT_FSIZE in a child process, not a small mount."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import errno, resource, signal, sys
from pathlib import Path
from noether.core.io import atomic_write_bytes
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
target = Path(sys.argv[1])
try:
    atomic_write_bytes(target, b"x" * 100_000)
except OSError as error:
    print(error.errno == errno.EFBIG, error.filename == str(target), sep=",")
else:
    print("no error")
"""


def test_a_refused_write_names_the_target_and_keeps_the_old_file(tmp_path, subprocess_env):
    target = tmp_path / "result.json"
    target.write_bytes(b"old")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(target)],
        capture_output=True,
        text=True,
        env=subprocess_env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True,True"
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]  # no temporary left


def test_a_successful_write_replaces_the_file(tmp_path):
    from noether.core.io import atomic_write_json

    atomic_write_json(tmp_path / "a.json", {"x": 1})
    atomic_write_json(tmp_path / "a.json", {"x": 2})
    assert (tmp_path / "a.json").read_text() == '{\n  "x": 2\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
