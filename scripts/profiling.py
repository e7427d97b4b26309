"""`py-spy record` around one phase of a benchmark (`--profile PATH` on the bench scripts).

    with py_spy(server.pid, path):      # no-op when path is None
        ...the measured phase...

Writes py-spy's raw (collapsed) format; `scripts/profile_top.py PATH` prints the top frames.
py-spy is a dev dependency; attaching needs ptrace rights (root, or ptrace_scope 0).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(pid: int, path: Path | None, rate: int = 250) -> Iterator[None]:
    if path is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.Popen(
        [exe, "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(path),
         "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)  # attached before the phase starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes the file on SIGINT
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
