"""Running ``fieldsync`` on a pseudo-terminal, as a coordinator sees it in a terminal window."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from dataclasses import dataclass

from tests.sync_client.conftest import PROJECT_ROOT, Fieldsync


@dataclass
class TtyResult:
    returncode: int
    output: bytes  # stdout and stderr as the terminal received them

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


def run_on_pty(fieldsync: Fieldsync, *args: str, timeout: float = 120) -> TtyResult:
    """Run ``fieldsync *args`` with its standard streams on a pseudo-terminal."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        fieldsync.command(*args),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**fieldsync.env, "COLUMNS": "200", "TERM": "xterm"},
        cwd=PROJECT_ROOT,
        close_fds=True,
    )
    os.close(slave)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal (EIO on Linux)
                break
            if not chunk:
                break
            output += chunk
        returncode = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return TtyResult(returncode, output)
