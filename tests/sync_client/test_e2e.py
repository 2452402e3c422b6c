"""The ``fieldsync`` command against a real server: login, import, push, pull, sync, status,
conflicts, and each failure kind's message and exit code."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
import requests

from sync_client.errors import (
    EXIT_AUTH,
    EXIT_CONFLICT,
    EXIT_OFFLINE,
    EXIT_STORE,
    EXIT_USAGE,
)
from sync_client.store import STORE_NAME
from tests.conftest import LiveServer, free_port
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.sync_client.conftest import Fieldsync
from tests.sync_client.odk import SIMPLE_FORM, write_instance
from tests.sync_client.server_state import submissions

pytestmark = pytest.mark.e2e


class Setup:
    def __init__(self, factories: Factories, live_server: LiveServer) -> None:
        self.project = factories.project("Camp 3 clearance")
        factories.publish(self.project, SIMPLE_FORM)
        self.user = factories.user(self.project, "coordinator")
        self.url = live_server.url
        self.factories = factories


@pytest.fixture
def setup(factories: Factories, live_server: LiveServer) -> Setup:
    return Setup(factories, live_server)


def login(fieldsync: Fieldsync, setup: Setup) -> None:
    done = fieldsync("login", setup.url, "--email", setup.user.email, input=DEFAULT_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert f"project {setup.project.id}" in done.stdout


def one_line_error(result: object) -> str:
    stderr = result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_import_push_pull_and_status(fieldsync: Fieldsync, setup: Setup, tmp_path: Path) -> None:
    login(fieldsync, setup)
    config = fieldsync.home / "config.json"
    if os.name == "posix":
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["project_id"] == setup.project.id

    instances = tmp_path / "sdcard" / "instances"
    photos = {}
    for i in range(4):
        photo = os.urandom(3000 + i)
        instance_id, _ = write_instance(instances, f"HA-000{i}", photo=photo)
        photos[instance_id] = hashlib.sha256(photo).hexdigest()
    (instances / "readme.txt").write_text("not a form")

    imported = fieldsync("import", str(instances))
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 forms (4 attachments" in imported.stdout
    assert "readme.txt: not part of an ODK instance" in imported.stdout

    before = fieldsync("status")
    assert "pending:     4 submissions" in before.stdout
    assert "last sync:   never" in before.stdout

    pushed = fieldsync("push", "--chunk-size", "1024")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 4 submissions (4 new" in pushed.stdout
    assert "4 attachments uploaded" in pushed.stdout
    on_server = submissions(setup.factories, setup.project.id)
    assert on_server == {iid: {"photo.jpg": sha} for iid, sha in photos.items()}

    again = fieldsync("push")
    assert again.returncode == 0
    assert "pushed 0 submissions" in again.stdout

    pulled = fieldsync("pull")
    assert pulled.returncode == 0, pulled.stderr
    assert "1 form and" in pulled.stdout
    assert " in 1 page; " in pulled.stdout
    with closing(sqlite3.connect(fieldsync.home / STORE_NAME)) as conn:
        xml = conn.execute(
            "SELECT xml FROM form_versions WHERE form_id = 'simple' AND version = '1'"
        ).fetchone()[0]
    assert b'id="simple"' in xml

    synced = fieldsync("sync")
    assert synced.returncode == 0, synced.stderr
    assert "nothing new" in synced.stdout
    after = fieldsync("status")
    assert "pending:     0 submissions" in after.stdout
    assert "sent:        4 submissions" in after.stdout
    assert "last sync:   never" not in after.stdout
    assert submissions(setup.factories, setup.project.id).keys() == photos.keys()


def test_refused_items_are_kept_and_shown(
    fieldsync: Fieldsync, setup: Setup, tmp_path: Path
) -> None:
    login(fieldsync, setup)
    instances = tmp_path / "instances"
    taken, _ = write_instance(instances, "HA-1")
    assert fieldsync("import", str(instances)).returncode == 0
    assert fieldsync("push").returncode == 0

    # A second laptop holds another copy under the same instanceID, and a form the server lacks.
    other = Fieldsync(tmp_path / "laptop-2")
    login(other, setup)
    elsewhere = tmp_path / "elsewhere"
    write_instance(elsewhere, "HA-1 edited badly", instance_id=taken)
    unknown = elsewhere / "unknown_1"
    unknown.mkdir()
    (unknown / "unknown_1.xml").write_text(
        '<data id="no_such_form" version="1"><meta><instanceID>uuid:u-1</instanceID></meta></data>'
    )
    assert other("import", str(elsewhere)).returncode == 0
    pushed = other("push")
    assert pushed.returncode == EXIT_CONFLICT
    assert "refused 2 items" in one_line_error(pushed)
    assert f"conflict: {taken} ({elsewhere}/" in pushed.stdout
    assert ".xml): submission.instance_conflict" in pushed.stdout
    # Named by the folder it came from too, not by its uuid alone.
    assert f"rejected: uuid:u-1 ({unknown}/unknown_1.xml): form.not_found" in pushed.stdout

    shown = other("status")
    assert "refused:     1 in conflict, 1 rejected" in shown.stdout
    assert "form.not_found" in shown.stdout
    # nothing was dropped: a later push leaves them alone, --retry-refused sends them again
    assert other("push").returncode == 0
    retried = other("push", "--retry-refused")
    assert retried.returncode == EXIT_CONFLICT
    assert "queued again 2 refused items" in retried.stdout


def test_wrong_password(fieldsync: Fieldsync, setup: Setup) -> None:
    result = fieldsync("login", setup.url, "--email", setup.user.email, input="wrong\n")
    assert result.returncode == EXIT_AUTH
    assert one_line_error(result) == "fieldsync: wrong email or password"
    assert not (fieldsync.home / "config.json").exists()


def test_revoked_token_asks_to_log_in_again(
    fieldsync: Fieldsync, setup: Setup, tmp_path: Path
) -> None:
    login(fieldsync, setup)
    token = json.loads((fieldsync.home / "config.json").read_text())["token"]
    revoked = requests.delete(
        f"{setup.url}/api/v1/sessions/current",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert revoked.status_code == 204
    write_instance(tmp_path / "i", "HA-9")
    assert fieldsync("import", str(tmp_path / "i")).returncode == 0
    result = fieldsync("push")
    assert result.returncode == EXIT_AUTH
    assert "run `fieldsync login` again" in one_line_error(result)
    assert "pending:     1 submission," in fieldsync("status").stdout


def test_server_down(fieldsync: Fieldsync, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = fieldsync("login", url, "--email", "a@b.org", "--max-retries", "2", input="pw\n")
    assert result.returncode == EXIT_OFFLINE
    # Not a TTY: one line per retry, saying what happens, then the one error line.
    *waiting, last = result.stderr.strip().splitlines()
    assert "cannot reach 127.0.0.1" in last
    assert [w.split("(attempt ")[1].split(")")[0] for w in waiting] == ["1 of 2", "2 of 2"]
    for line in waiting:
        assert line.startswith("fieldsync: server unreachable, retrying in ")
        assert line.endswith("; Ctrl-C stops, nothing is lost")


def test_commands_that_need_a_login_say_so(fieldsync: Fieldsync) -> None:
    result = fieldsync("push")
    assert result.returncode == EXIT_USAGE
    assert "fieldsync login" in one_line_error(result)


def test_a_damaged_store_is_reported_and_kept(fieldsync: Fieldsync, tmp_path: Path) -> None:
    fieldsync.home.mkdir(parents=True)
    store = fieldsync.home / STORE_NAME
    store.write_bytes(b"\x00garbage" * 512)
    for args in (("status",), ("import", str(tmp_path))):
        result = fieldsync(*args)
        assert result.returncode == EXIT_STORE
        assert "is damaged" in one_line_error(result)
    assert store.read_bytes() == b"\x00garbage" * 512


def test_a_resolution_the_server_refuses_is_kept_with_its_reason(
    fieldsync: Fieldsync, setup: Setup
) -> None:
    login(fieldsync, setup)
    listed = fieldsync("conflicts")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "no open conflicts"
    # A conflict the last pull does not know is refused before anything is queued.
    queued = fieldsync(
        "conflicts", "resolve", "424242", "--value", "status=cleared", "--reason", "QA visit"
    )
    assert queued.returncode == EXIT_USAGE
    assert "no conflict 424242 in the last pull" in one_line_error(queued)
    assert "conflict resolution" not in fieldsync("status").stdout
    assert fieldsync("outbox", "list").stdout.strip() == "the outbox is empty (nothing waits)"

    bad = fieldsync("conflicts", "resolve", "42", "--value", "nonsense", "--reason", "x")
    assert bad.returncode == EXIT_USAGE
    assert "property=value" in one_line_error(bad)


def test_a_lost_attachment_file_holds_back_only_its_form(
    fieldsync: Fieldsync, setup: Setup, tmp_path: Path
) -> None:
    login(fieldsync, setup)
    instances = tmp_path / "instances"
    photos = {name: os.urandom(2000 + i) for i, name in enumerate(("kept", "lost", "damaged"))}
    ids = {name: write_instance(instances, name, photo=p)[0] for name, p in photos.items()}
    shas = {name: hashlib.sha256(p).hexdigest() for name, p in photos.items()}
    assert fieldsync("import", str(instances)).returncode == 0
    blob = fieldsync.home / "blobs"
    (blob / shas["lost"][:2] / shas["lost"]).unlink()
    (blob / shas["damaged"][:2] / shas["damaged"]).write_bytes(b"bit rot")

    pushed = fieldsync("push")
    assert pushed.returncode == EXIT_CONFLICT
    assert f"rejected: {ids['lost']} (" in pushed.stdout
    assert f"rejected: {ids['damaged']} (" in pushed.stdout
    assert pushed.stdout.count("): local.attachment_missing") == 2
    assert set(submissions(setup.factories, setup.project.id)) == {ids["kept"]}

    reimported = fieldsync("import", str(instances))
    assert "restored 2 attachment files" in reimported.stdout
    retried = fieldsync("push", "--retry-refused")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert submissions(setup.factories, setup.project.id) == {
        ids[name]: {"photo.jpg": shas[name]} for name in photos
    }
