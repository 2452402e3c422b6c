"""A laptop whose disk fills up during an import: one clear line, exit code 7, and everything
imported before stays in the store. Runs where a small tmpfs can be mounted (Linux as root)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from sync_client.errors import EXIT_STORE
from sync_client.store import STORE_NAME
from tests.sync_client.conftest import Fieldsync
from tests.sync_client.odk import write_instance


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux to mount a small tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_import(small_disk: Path, tmp_path: Path) -> None:
    fieldsync = Fieldsync(small_disk / "fieldsync")
    first = tmp_path / "day-1"
    kept, _ = write_instance(first, "HA-1", photo=os.urandom(20_000))
    assert fieldsync("import", str(first)).returncode == 0

    second = tmp_path / "day-2"
    for i in range(6):
        write_instance(second, f"HA-2{i}", photo=os.urandom(300_000))
    full = fieldsync("import", str(second))
    assert full.returncode == EXIT_STORE, full.stdout + full.stderr
    [line] = full.stderr.strip().splitlines()
    assert "is full" in line

    status = fieldsync("status")
    assert status.returncode == 0, status.stderr
    # the disk filled while copying day 2's photos: day 1 is untouched, day 2 left no rows
    assert "pending:     1 submission," in status.stdout
    with closing(sqlite3.connect(fieldsync.home / STORE_NAME)) as conn:
        assert conn.execute("SELECT instance_id FROM outbox").fetchall() == [(kept,)]
