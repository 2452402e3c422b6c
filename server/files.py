"""Owner-only files: the data directory holds password hashes, Digest HA1 values, survivors' data,
the audit log and the secret key, so it is created 0700 and every file in it 0600, whatever the
process's umask. Files and directories that already exist are tightened when the server opens."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
MAX_NAME = 300
# A path separator, a control character, or a name that walks out of its directory.
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def is_plain_file_name(name: str) -> bool:
    """A file name that is only a name: no directory part, no control character, not ``.`` or
    ``..``, at most 300 characters (form media, submission attachments)."""
    return (
        bool(name)
        and name not in (".", "..")
        and len(name) <= MAX_NAME
        and not (_UNSAFE_NAME.search(name))
    )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only, or tighten it if it exists."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    _chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and owner-only if it is missing; tighten it if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    _chmod(path, PRIVATE_FILE)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text``, owner-only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    _chmod(path, PRIVATE_FILE)


def tighten(path: Path) -> None:
    """Make an existing file owner-only (e.g. SQLite's -wal and -shm, made with the database's
    own mode, left 0644 by an older version)."""
    if path.exists():
        _chmod(path, PRIVATE_FILE)


def _chmod(path: Path, mode: int) -> None:
    # Windows ignores POSIX modes, and a file another owner made cannot be changed; neither
    # stops the server.
    with contextlib.suppress(NotImplementedError, PermissionError):
        os.chmod(path, mode)
