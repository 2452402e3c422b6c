"""``fieldsync-server entities process-backlog`` in a process of its own, as an operator runs it
from cron: the command must find every model it touches without anything imported before it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.entities.conftest import Field
from tests.entities.test_entity_service import clearance

# The installed console script: ``python -m server.cli`` would run the module as ``__main__``,
# which is not how an operator starts it.
COMMAND = str(Path(sys.executable).parent / "fieldsync-server")


def _run_backlog(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [COMMAND, "entities", "process-backlog", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_process_backlog_in_a_fresh_process_with_a_held_update(
    field: Field, database_url: str, tmp_path: Path
) -> None:
    ha = str(uuid.uuid4())
    update = clearance(field, ha, 1, status="in_clearance")
    field.receive(update)
    assert field.inbox(update.instance_id).status == "held"

    kept = _run_backlog(database_url, tmp_path / "cli-data")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.strip() == "applied 0, force-applied 0, still held 1"
    assert field.inbox(update.instance_id).status == "held"

    forced = _run_backlog(database_url, tmp_path / "cli-data", "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.strip() == "applied 0, force-applied 1, still held 0"
    assert field.inbox(update.instance_id).status == "applied"
    assert field.entity(ha).values["status"] == "in_clearance"
