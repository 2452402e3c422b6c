"""What ``fieldsync`` says while it waits, and for the mistakes a tired coordinator makes: a server
that is down, the wrong scheme, a pasted device URL, ``/api/v1`` typed in, a truncated zip, an
instance of a form the server does not have, a photo left on the tablet."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from sync_client.errors import EXIT_OFFLINE, EXIT_SKIPPED, EXIT_USAGE
from sync_client.home import Config, save_config
from tests.conftest import LiveServer, free_port
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.sync_client.conftest import Fieldsync
from tests.sync_client.odk import SIMPLE_FORM, instance_xml, write_instance, zip_folder
from tests.sync_client.pty_run import run_on_pty
from tests.sync_client.server_state import submissions

RETRY_LINE = re.compile(
    r"server unreachable, retrying in \d+ s \(attempt (\d+) of 3\); Ctrl-C stops, nothing is lost"
)


def logged_in_to_nowhere(fieldsync: Fieldsync) -> None:
    """A laptop whose server is down: the login is remembered, nothing listens on its port."""
    url = f"http://127.0.0.1:{free_port()}"
    save_config(fieldsync.home, Config(server_url=url, token="t", email="a@b.org", project_id=1))


def test_push_to_a_server_that_is_down_says_so_on_each_retry(
    fieldsync: Fieldsync, tmp_path: Path
) -> None:
    logged_in_to_nowhere(fieldsync)
    write_instance(tmp_path / "instances")
    assert fieldsync("import", str(tmp_path / "instances")).returncode == 0
    result = fieldsync("push", "--max-retries", "3")
    assert result.returncode == EXIT_OFFLINE, result.stderr
    *waiting, last = result.stderr.strip().splitlines()
    assert "cannot reach 127.0.0.1" in last
    # Not a terminal: one line per attempt, so a log shows waiting, not hanging.
    assert [RETRY_LINE.search(line).group(1) for line in waiting] == ["1", "2", "3"]  # type: ignore[union-attr]


@pytest.mark.parametrize("command", ["pull", "push"])
def test_on_a_terminal_the_retry_message_is_one_updating_line(
    fieldsync: Fieldsync, tmp_path: Path, command: str
) -> None:
    logged_in_to_nowhere(fieldsync)
    write_instance(tmp_path / "instances")  # push draws a progress bar for what it sends
    assert fieldsync("import", str(tmp_path / "instances")).returncode == 0
    result = run_on_pty(fieldsync, command, "--max-retries", "3")
    assert result.returncode == EXIT_OFFLINE
    before_error, _, error = result.text.partition("fieldsync: cannot reach 127.0.0.1")
    assert error, result.text
    attempts = [int(m.group(1)) for m in RETRY_LINE.finditer(before_error)]
    # A progress bar redraws a few times a second, so it may skip a quick message, not more.
    assert attempts and attempts == sorted(attempts) and attempts[-1] == 3, result.text
    # Each message replaces the last on the same line: no new line until the result.
    drawn = re.sub(r"(\r|\n|\x1b\[[0-9;?]*[A-Za-z])+$", "", before_error)
    assert drawn.count("\n") == 0, result.text
    assert "\r" in before_error


def test_https_to_a_plain_http_server_is_detected_at_once(
    fieldsync: Fieldsync, live_server: LiveServer
) -> None:
    https = live_server.url.replace("http://", "https://")
    result = fieldsync("login", https, "--email", "a@b.org", "--connect-timeout", "2", input="pw\n")
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "retrying" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"speaks HTTP, not HTTPS: use {live_server.url}" in line


def test_login_explains_a_device_url_and_accepts_api_v1(
    fieldsync: Fieldsync, factories: Factories, live_server: LiveServer
) -> None:
    project = factories.project("Camp 4")
    user = factories.user(project, "coordinator")
    device = f"{live_server.url}/v1/key/abc123/projects/{project.id}"
    refused = fieldsync("login", device, "--email", user.email, input=DEFAULT_PASSWORD + "\n")
    assert refused.returncode == EXIT_USAGE
    assert "that is a device URL" in refused.stderr
    assert f"`fieldsync login {live_server.url}`" in refused.stderr

    typed = f"{live_server.url}/api/v1/"
    done = fieldsync("login", typed, "--email", user.email, input=DEFAULT_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert f"logged in to {live_server.url} as" in done.stdout
    assert "fieldsync adds /api/v1 itself" in done.stderr


def test_a_truncated_zip_is_named_as_such(fieldsync: Fieldsync, tmp_path: Path) -> None:
    write_instance(tmp_path / "instances", photo=b"x" * 5000)
    archive = zip_folder(tmp_path / "instances", tmp_path / "tablet.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    assert not zipfile.is_zipfile(archive)
    result = fieldsync("import", str(archive))
    assert result.returncode == EXIT_USAGE
    assert "damaged or truncated zip" in result.stderr
    assert "neither a folder nor a zip" not in result.stderr


@pytest.mark.e2e
def test_import_checks_pulled_forms_and_named_files(
    fieldsync: Fieldsync, factories: Factories, live_server: LiveServer, tmp_path: Path
) -> None:
    project = factories.project("Camp 3 clearance")
    factories.publish(project, SIMPLE_FORM)
    user = factories.user(project, "coordinator")
    login = fieldsync(
        "login", live_server.url, "--email", user.email, input=DEFAULT_PASSWORD + "\n"
    )
    assert login.returncode == 0, login.stderr
    assert fieldsync("pull").returncode == 0

    instances = tmp_path / "instances"
    good, _ = write_instance(instances, "HA-1", photo=b"jpeg")
    single = fieldsync("import", str(instances))
    assert single.returncode == 0, single.stdout + single.stderr
    assert "imported 1 form (1 attachment, 4 B)" in single.stdout
    assert "0 files skipped" in single.stdout

    # The form names photo.jpg but the file stayed on the tablet.
    no_photo = instances / "simple_no_photo"
    no_photo.mkdir()
    (no_photo / "simple_no_photo.xml").write_bytes(
        instance_xml("uuid:no-photo", "HA-2", photo="1700000000.jpg")
    )
    # Five instances of a form the server does not have: one line for the reason, not five.
    for n in range(5):
        ghost = instances / f"ghost_{n}"
        ghost.mkdir()
        (ghost / f"ghost_{n}.xml").write_bytes(instance_xml(f"uuid:ghost-{n}", form_id="ghost"))
    result = fieldsync("import", str(instances))
    assert result.returncode == EXIT_SKIPPED, result.stdout + result.stderr
    assert "imported 1 form (0 attachments, 0 B); 1 already imported; 5 files skipped" in (
        result.stdout
    )
    assert f"warning: {no_photo}: imported without '1700000000.jpg'" in result.stdout
    [ghosts] = [line for line in result.stdout.splitlines() if "'ghost'" in line]
    assert ghosts.startswith("  skipped 5 files: form 'ghost' is not on the server")
    assert "forms pulled: simple" in ghosts
    assert str(instances / "ghost_0") in ghosts
    assert "5 files could not be imported" in result.stderr

    pushed = fieldsync("push")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 2 submissions" in pushed.stdout
    on_server = submissions(factories, project.id)
    assert set(on_server) == {good, "uuid:no-photo"}
