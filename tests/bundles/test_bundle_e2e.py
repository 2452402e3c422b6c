"""A hub with tablets and no link: its coordinator carries a bundle to the centre on a USB
stick, the centre imports it (again, and cut short), and the receipt comes back.

The centre is the app served on loopback by this test process (and its command line); the
laptop is `fieldsync` in processes of its own, its hub serving the tablets over OpenRosa.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from server.accounts import service as accounts
from server.accounts.models import Role, User
from server.bundles.models import ImportedBundle
from server.cli import main as server_main
from server.db import transaction
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from server.submissions.parse import binary_paths
from tests.bundles.test_peer_e2e import pull_fully
from tests.conftest import LiveServer
from tests.entities.builders import Filled
from tests.entities.conftest import Field
from tests.entities.test_entity_service import clearance, new_area
from tests.factories import DEFAULT_PASSWORD
from tests.hub.test_hub_e2e import Hub, _plain, fieldsync

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def server_env(app: Flask) -> dict[str, str]:
    settings = app.extensions["fieldsync"].settings
    return {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def server_cli(app: Flask, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(server_main, list(args), env=server_env(app))
    return result.exit_code, result.output


@pytest.fixture
def laptop(field: Field, live_server: LiveServer, tmp_path: Path) -> Iterator[Hub]:
    field.factories.user(field.project, Role.COORDINATOR, email="coordinator@example.org")
    home = tmp_path / "laptop"
    login = fieldsync(
        home,
        "login",
        live_server.url,
        "--email",
        "coordinator@example.org",
        "--project",
        str(field.project.id),
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert login.returncode == 0, login.stderr
    assert "registered; centre key" in login.stdout
    pull_fully(home, field, entities=0)
    hub = Hub(home)
    yield hub
    hub.stop()


def with_a_photo(field: Field) -> Filled:
    """An EOD spot task report with a photo of the device."""
    form = field.forms["eod_report"]
    path = binary_paths(form.xml_sha256, form.xml)[0]

    class Photo(Filled):
        def xml(self) -> bytes:
            opened = "".join(f"<{p}>" for p in path)
            closed = "".join(f"</{p}>" for p in reversed(path))
            return (
                f'<?xml version="1.0"?><data id="eod_report" version="{self.form.version}">'
                f"<date_of_information>2026-11-21</date_of_information>"
                f"{opened}photo.jpg{closed}"
                f"<meta><instanceID>{self.instance_id}</instanceID></meta></data>"
            ).encode()

    return Photo(form_id="eod_report", form=form)


def centre_counts(field: Field) -> tuple[int, int, list[str]]:
    with field.factories.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Submission)) or 0,
            session.scalar(select(func.count()).select_from(SubmissionAttachment)) or 0,
            sorted(session.scalars(select(SubmissionVersion.instance_id))),
        )


def test_a_bundle_carried_to_the_centre_and_its_receipt_carried_back(
    app: Flask, field: Field, live_server: LiveServer, laptop: Hub, tmp_path: Path
) -> None:
    known = str(uuid.uuid4())
    field.receive(new_area(field, known))
    pull_fully(laptop.home, field, entities=1)
    laptop.start()
    team = laptop.add_device("team 1 tablet")
    reports = [
        clearance(
            field,
            known,
            1,
            status="in_clearance",
            cleared_area_m2="3000",
            remaining_area_m2="9000",
            date="2026-11-21",
        ),
        _plain(field, "eore_session"),
        _plain(field, "eore_session"),
    ]
    for report in reports:
        assert team.submit(report) == 201
    with_photo = with_a_photo(field)
    answer = team.http.post(
        f"{team.base}/submission",
        files={
            "xml_submission_file": (
                "submission.xml",
                with_photo.xml(),
                "text/xml",
            ),
            "photo.jpg": ("photo.jpg", PHOTO, "image/jpeg"),
        },
        timeout=30,
    )
    assert answer.status_code == 201
    reports.append(with_photo)
    laptop.stop()
    before = centre_counts(field)

    # No link: the coordinator queues what the hub received and writes the bundle.
    stick = tmp_path / "usb"
    bundle = stick / "camp3.fsb"
    exported = fieldsync(laptop.home, "bundle", "export", "--out", str(bundle))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert "4 submissions" in exported.stdout and "for the centre" in exported.stdout
    assert sorted(p.name for p in stick.iterdir()) == ["camp3.fsb"]
    status = fieldsync(laptop.home, "status")
    assert "bundles:     1 bundle exported for the centre and not yet acknowledged" in status.stdout
    good = bundle.read_bytes()
    assert PHOTO[:200] not in good and with_photo.instance_id.encode() not in good

    # A copy cut short, and copies with one byte changed anywhere: refused, nothing applied.
    cut = stick / "cut.fsb"
    cut.write_bytes(good[: len(good) * 2 // 3])
    code, output = server_cli(app, "bundle", "import", str(cut))
    assert code == 1 and "cut short" in output, output
    for position in (10, len(good) // 3, len(good) // 2, len(good) - 30):
        bad = bytearray(good)
        bad[position] ^= 0x40
        tampered = stick / f"tampered-{position}.fsb"
        tampered.write_bytes(bytes(bad))
        code, output = server_cli(app, "bundle", "import", str(tampered))
        assert code == 1 and "bundle refused" in output, (position, output)
    assert centre_counts(field) == before

    # Imported at the centre: every report, once, with the laptop as its carrier.
    receipt = stick / "camp3.receipt.fsb"
    code, output = server_cli(app, "bundle", "import", str(bundle))
    assert code == 0, output
    assert "4 stored" in output and f"receipt written to {receipt}" in output
    count, attachments, ids = centre_counts(field)
    assert count == before[0] + 4 and attachments == before[1] + 1
    assert set(ids) >= {r.instance_id for r in reports}
    with field.factories.session() as session:
        version = session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.instance_id == reports[0].instance_id)
        ).one()
        hops = [h["hop"] for h in version.provenance]
    assert hops == ["device", "hub", "bundle", "server"]
    assert field.entity(known).values["cleared_area_m2"] == "3000"

    # Imported again (a second clerk, the same stick), and through the API: nothing changes.
    code, output = server_cli(
        app, "bundle", "import", str(bundle), "--receipt", str(stick / "again.fsb")
    )
    assert code == 0 and "imported before: nothing applied again" in output, output
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    uploaded = requests.post(
        f"{live_server.url}/api/v1/projects/{field.project.id}/bundles",
        data=good,
        headers={**coordinator.headers, "Content-Type": "application/vnd.fieldsync.bundle"},
        timeout=30,
    )
    assert uploaded.status_code == 200 and uploaded.headers["X-Bundle-Replayed"] == "true"
    assert centre_counts(field) == (count, attachments, ids)
    with field.factories.session() as session:
        assert session.scalar(select(func.count()).select_from(ImportedBundle)) == 1

    # No receipt yet, so the next bundle carries the same items: an overlapping bundle,
    # recognised item by item.
    overlapping = stick / "camp3-later.fsb"
    assert fieldsync(laptop.home, "bundle", "export", "--out", str(overlapping)).returncode == 0
    code, output = server_cli(app, "bundle", "import", str(overlapping))
    assert code == 0 and "4 duplicate" in output, output
    assert centre_counts(field) == (count, attachments, ids)
    assert field.entity(known).current_version == 2

    # The receipt travels back: the outbox is empty, the bundle acknowledged.
    tampered_receipt = stick / "bad-receipt.fsb"
    raw = bytearray(receipt.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered_receipt.write_bytes(bytes(raw))
    refused = fieldsync(laptop.home, "bundle", "import", str(tampered_receipt))
    assert refused.returncode == 9 and "bundle refused" in refused.stderr, refused.stderr
    imported = fieldsync(laptop.home, "bundle", "import", str(receipt))
    assert imported.returncode == 0, imported.stderr
    assert "4 items delivered to the centre, 0 refused" in imported.stdout
    status = fieldsync(laptop.home, "status")
    assert "pending:     0 submissions" in status.stdout
    assert "sent:        4 submissions" in status.stdout
    # The second bundle's receipt has not come back (its items are delivered all the same).
    assert "bundles:     1 bundle exported for the centre and not yet acknowledged" in status.stdout
    later = fieldsync(laptop.home, "bundle", "import", str(stick / "camp3-later.receipt.fsb"))
    assert later.returncode == 0 and "4 items delivered" in later.stdout, later.stderr
    status = fieldsync(laptop.home, "status")
    assert "bundles:     0 bundles exported" in status.stdout
    # A later sync with a link sends nothing again.
    synced = fieldsync(laptop.home, "sync")
    assert synced.returncode == 0, synced.stderr
    assert "pushed 0 submissions" in synced.stdout
    assert centre_counts(field) == (count, attachments, ids)


def test_bad_bundles_are_refused_with_one_line_and_nothing_applied(
    app: Flask, field: Field, live_server: LiveServer, laptop: Hub, tmp_path: Path
) -> None:
    laptop.start()
    tablet = laptop.add_device("tablet")
    assert tablet.submit(_plain(field, "eore_session")) == 201
    laptop.stop()
    bundle = tmp_path / "one.fsb"
    assert fieldsync(laptop.home, "bundle", "export", "--out", str(bundle)).returncode == 0
    before = centre_counts(field)
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    url = f"{live_server.url}/api/v1/projects/{field.project.id}/bundles"

    # For another project (the clerk has a role in it): refused as such.
    other = field.factories.project("Another coalition")
    with transaction(field.factories.runtime.session_factory) as session:
        user = session.get(User, coordinator.user.id)
        assert user is not None
        accounts.grant_role(session, user, other, Role.COORDINATOR)
    wrong = requests.post(
        f"{live_server.url}/api/v1/projects/{other.id}/bundles",
        data=bundle.read_bytes(),
        headers=coordinator.headers,
        timeout=30,
    )
    assert wrong.status_code == 422
    assert wrong.headers["Content-Type"] == "application/problem+json"
    assert wrong.json()["code"] == "bundle.wrong_project"

    # Not a bundle at all.
    junk = requests.post(
        url, data=b"PK\x03\x04" + b"x" * 100, headers=coordinator.headers, timeout=30
    )
    assert junk.status_code == 400 and junk.json()["code"] == "bundle.truncated"

    # The laptop's key revoked at the centre (a lost laptop): refused, naming the key.
    key_id = fieldsync(laptop.home, "keys", "show").stdout.split()[2]
    code, output = server_cli(app, "keys", "revoke", key_id, "--reason", "laptop lost")
    assert code == 0 and f"revoked key {key_id}" in output
    revoked = requests.post(url, data=bundle.read_bytes(), headers=coordinator.headers, timeout=30)
    assert revoked.status_code == 403
    assert revoked.json()["code"] == "bundle.key_revoked"
    assert key_id in revoked.json()["detail"]
    code, output = server_cli(app, "bundle", "import", str(bundle))
    assert code == 1 and "was revoked" in output and len(output.strip().splitlines()) == 1
    assert centre_counts(field) == before

    # An unknown key: a laptop that never logged in.
    stranger = tmp_path / "stranger"
    assert fieldsync(stranger, "keys", "init").returncode == 0
    (stranger / "keys").joinpath(f"centre-project-{field.project.id}.json").write_bytes(
        next((laptop.home / "keys").glob("centre-project-*.json")).read_bytes()
    )
    (stranger / "config.json").write_bytes((laptop.home / "config.json").read_bytes())
    assert fieldsync(stranger, "bundle", "export", "--out", str(tmp_path / "s.fsb")).returncode == 0
    unknown = requests.post(
        url, data=(tmp_path / "s.fsb").read_bytes(), headers=coordinator.headers, timeout=30
    )
    assert unknown.status_code == 403 and unknown.json()["code"] == "bundle.unknown_key"
    assert centre_counts(field) == before
