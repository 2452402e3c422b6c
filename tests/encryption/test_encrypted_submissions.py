"""End to end over HTTP: a form published encrypted, a submission encrypted as ODK Collect
encrypts one (with a media file) sent to the running server, stored as received, and decrypted
only through the export with the passphrase; a wrong passphrase gets a clear error and nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from server.accounts.models import Role
from server.entities.models import Entity, EntityList
from server.projects.models import KeyScope, Project, ProjectKey
from server.submissions.models import SubmissionAttachment, SubmissionVersion
from tests.conftest import LiveServer
from tests.encryption.collect import EncryptedSubmission, encrypt_submission, public_key_from_xform
from tests.factories import ENCRYPTION_PASSPHRASE, Device, Factories, LoggedIn
from tests.openrosa.helpers import (
    OPENROSA,
    PHOTO,
    instance_xml,
    new_instance_id,
    publish_fixture,
    requests_files,
)

pytestmark = pytest.mark.e2e

NAME = "Amina Keomany"  # a survivor's name: must never be readable without the passphrase

# The survivors list goes only to devices assigned its forms (ADR 0015).
SURVIVOR_FORMS = ("survivor_intake",)


@pytest.fixture
def encrypted(factories: Factories) -> tuple[Project, ProjectKey]:
    project, key = factories.encrypted_project()
    publish_fixture(factories, project, "survivor_intake")
    return project, key


@pytest.fixture
def device(factories: Factories, encrypted: tuple[Project, ProjectKey]) -> Device:
    return factories.device(encrypted[0], forms_assigned=SURVIVOR_FORMS)


@pytest.fixture
def admin(factories: Factories, encrypted: tuple[Project, ProjectKey]) -> LoggedIn:
    # A caseworker: without the personal-data flag an export leaves survivors' names out even
    # when decrypted (ADR 0015), which is not what these tests are about.
    user = factories.user(encrypted[0], Role.ADMINISTRATOR, personal_data=True)
    return factories.login(user)


@pytest.fixture
def collect(live_server: LiveServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(OPENROSA)
        yield session


def fill_and_send(
    collect: requests.Session,
    live_server: LiveServer,
    device: Device,
    *,
    code: str = "SV-0001",
    **options: bool,
) -> tuple[str, EncryptedSubmission, requests.Response]:
    """What a tablet does: download the form, read its key, fill it in, encrypt, send."""
    base = f"{live_server.url}{device.base_path}"
    xform = collect.get(f"{base}/forms/survivor_intake.xml", timeout=10)
    assert xform.status_code == 200
    public_key = public_key_from_xform(xform.text)
    version = xform.text.split('id="survivor_intake" version="', 1)[1].split('"', 1)[0]
    instance_id = new_instance_id()
    xml = survivor_instance(version, instance_id, code)
    sent = encrypt_submission(
        public_key, "survivor_intake", version, instance_id, xml, {"consent.jpg": PHOTO}, **options
    )
    response = collect.post(
        f"{base}/submission", files=requests_files(sent.manifest, sent.files), timeout=10
    )
    return instance_id, sent, response


def survivor_instance(version: str, instance_id: str, code: str) -> bytes:
    """The instance Collect writes for survivor_intake, entity block included."""
    return (
        f'<?xml version="1.0"?><data id="survivor_intake" version="{version}">'
        f"<survivor_code>{code}</survivor_code><village>Ban Phonxay</village>"
        f"<pii_name>{NAME}</pii_name><consent_photo>consent.jpg</consent_photo>"
        f'<meta><entity dataset="survivors" create="1" id="{uuid.uuid4()}">'
        f"<label>{code}</label></entity><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def export_zip(
    live_server: LiveServer, project: Project, admin: LoggedIn, body: dict[str, str] | None
) -> requests.Response:
    url = f"{live_server.url}/v1/projects/{project.id}/forms/survivor_intake/submissions.csv.zip"
    if body is None:
        return requests.get(url, headers=admin.headers, timeout=30)
    return requests.post(url, json=body, headers=admin.headers, timeout=30)


def root_rows(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    text = archive.read("survivor_intake.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_published_form_carries_the_public_key_and_a_new_version(
    app: Flask, live_server: LiveServer, encrypted: tuple[Project, ProjectKey], admin: LoggedIn
) -> None:
    project, key = encrypted
    form = requests.get(
        f"{live_server.url}/v1/projects/{project.id}/forms/survivor_intake",
        headers=admin.headers,
        timeout=10,
    ).json()
    assert form["keyId"] == key.id
    assert form["version"] == f"1[encrypted:{key.id}]"
    served = requests.get(
        f"{live_server.url}/v1/projects/{project.id}/forms/survivor_intake.xml",
        headers=admin.headers,
        timeout=10,
    ).text
    assert f'base64RsaPublicKey="{key.public_key}"' in served
    keys = requests.get(
        f"{live_server.url}/v1/projects/{project.id}/forms/survivor_intake/submissions/keys",
        headers=admin.headers,
        timeout=10,
    ).json()
    assert keys == [
        {
            "id": key.id,
            "public": key.public_key,
            "managed": True,
            "hint": None,
            "createdAt": keys[0]["createdAt"],
        }
    ]
    project_json = requests.get(
        f"{live_server.url}/v1/projects/{project.id}", headers=admin.headers, timeout=10
    ).json()
    assert project_json["keyId"] == key.id


def test_collect_submission_is_stored_as_received_and_decrypted_only_with_the_passphrase(
    app: Flask,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    admin: LoggedIn,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    project, key = encrypted
    instance_id, sent, response = fill_and_send(collect, live_server, device)
    assert response.status_code == 201, response.text

    # Stored as received: the manifest as its XML, the .enc parts as blobs, marked encrypted.
    runtime = app.extensions["fieldsync"]
    with runtime.session_factory() as session:
        version = session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id)
        ).one()
        assert version.encrypted and version.entities_pending
        assert version.xml.encode() == sent.manifest
        assert NAME not in version.xml
        stored = {
            a.name: a.blob_sha256
            for a in session.scalars(
                select(SubmissionAttachment).where(
                    SubmissionAttachment.submission_version_id == version.id
                )
            )
        }
    assert set(stored) == {"consent.jpg.enc", "submission.xml.enc"}
    for name, sha in stored.items():
        assert sha is not None
        with runtime.blobs.open(sha) as fh:
            assert fh.read() == sent.files[name]

    # A resend of the same bytes is recognised by its instanceID and changes nothing.
    again = collect.post(
        f"{live_server.url}{device.base_path}/submission",
        files=requests_files(sent.manifest, sent.files),
        timeout=10,
    )
    assert again.status_code == 201
    with runtime.session_factory() as session:
        assert len(list(session.scalars(select(SubmissionVersion)))) == 1

    # Without the passphrase: metadata only, Central's status, no media.
    closed = export_zip(live_server, project, admin, None)
    assert closed.status_code == 200
    with zipfile.ZipFile(io.BytesIO(closed.content)) as archive:
        assert NAME.encode() not in closed.content
        assert not [n for n in archive.namelist() if n.startswith("media/")]
        [row] = root_rows(archive)
    assert row["KEY"] == instance_id
    assert row["Status"] == "not decrypted"
    assert row["pii_name"] == ""

    # With the passphrase (Central's body: {"<keyId>": passphrase}): decrypted in memory.
    opened = export_zip(live_server, project, admin, {str(key.id): ENCRYPTION_PASSPHRASE})
    assert opened.status_code == 200, opened.text
    with zipfile.ZipFile(io.BytesIO(opened.content)) as archive:
        [row] = root_rows(archive)
        assert archive.read("media/consent.jpg") == PHOTO
    assert row["pii_name"] == NAME
    assert row["survivor_code"] == "SV-0001"
    assert row["consent_photo"] == "consent.jpg"
    assert row["Status"] == ""

    # Our own API takes {"passphrase": ...} on the same path under /api/v1.
    ours = requests.post(
        f"{live_server.url}/api/v1/projects/{project.id}/forms/survivor_intake/submissions.csv",
        json={"passphrase": ENCRYPTION_PASSPHRASE},
        headers=admin.headers,
        timeout=30,
    )
    assert ours.status_code == 200
    assert NAME in ours.text


def test_a_wrong_passphrase_gets_a_clear_error_and_nothing(
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    admin: LoggedIn,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    project, key = encrypted
    _instance_id, _sent, response = fill_and_send(collect, live_server, device)
    assert response.status_code == 201
    central = export_zip(live_server, project, admin, {str(key.id): "not the passphrase"})
    assert central.status_code == 400
    assert central.headers["Content-Type"].startswith("application/json")
    body = central.json()
    assert body["code"] == 400.12
    assert body["details"]["fieldsyncCode"] == "encryption.wrong_passphrase"
    assert NAME.encode() not in central.content

    ours = requests.post(
        f"{live_server.url}/api/v1/projects/{project.id}/forms/survivor_intake/submissions.csv.zip",
        json={"passphrase": "not the passphrase"},
        headers=admin.headers,
        timeout=30,
    )
    assert ours.status_code == 400
    assert ours.headers["Content-Type"].startswith("application/problem+json")
    assert ours.json()["code"] == "encryption.wrong_passphrase"

    # Decryption is only into the CSV exports, written in memory.
    xlsx = requests.post(
        f"{live_server.url}/api/v1/projects/{project.id}/forms/survivor_intake/submissions.xlsx",
        json={"passphrase": ENCRYPTION_PASSPHRASE},
        headers=admin.headers,
        timeout=30,
    )
    assert xlsx.status_code == 405  # no decrypting route for XLSX at all


def test_enketo_key_padding_decrypts_too(
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    admin: LoggedIn,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    """Enketo pads the key with MGF1-SHA-1 where Collect uses SHA-256: both open."""
    project, key = encrypted
    _instance_id, _sent, response = fill_and_send(collect, live_server, device, mgf_sha1=True)
    assert response.status_code == 201
    opened = export_zip(live_server, project, admin, {str(key.id): ENCRYPTION_PASSPHRASE})
    with zipfile.ZipFile(io.BytesIO(opened.content)) as archive:
        [row] = root_rows(archive)
    assert row["pii_name"] == NAME


def test_a_submission_whose_signature_does_not_match_is_not_opened(
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    admin: LoggedIn,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    project, key = encrypted
    _good, _sent, first = fill_and_send(collect, live_server, device, code="SV-0002")
    bad, _sent, second = fill_and_send(collect, live_server, device, tamper_signature=True)
    assert first.status_code == second.status_code == 201
    opened = export_zip(live_server, project, admin, {str(key.id): ENCRYPTION_PASSPHRASE})
    with zipfile.ZipFile(io.BytesIO(opened.content)) as archive:
        rows = {r["KEY"]: r for r in root_rows(archive)}
        media = [n for n in archive.namelist() if n.startswith("media/")]
    assert rows[bad]["Status"] == "signature mismatch"
    assert rows[bad]["pii_name"] == ""
    assert rows[_good]["pii_name"] == NAME
    assert media == ["media/consent.jpg"]  # the verified submission's only


def test_encryption_must_match_the_form_version(
    factories: Factories,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    _project, key = encrypted
    base = f"{live_server.url}{device.base_path}"
    plain = instance_xml(
        "survivor_intake", f"1[encrypted:{key.id}]", new_instance_id(), pii_name=NAME
    )
    refused = collect.post(f"{base}/submission", files=requests_files(plain), timeout=10)
    assert refused.status_code == 400
    assert "is encrypted" in refused.text

    # An encrypted manifest to a plain form is refused as well.
    other = factories.project()
    publish_fixture(factories, other, "simple_form")
    other_device = factories.device(other)
    public_key = public_key_from_xform(
        collect.get(f"{base}/forms/survivor_intake.xml", timeout=10).text
    )
    instance_id = new_instance_id()
    sent = encrypt_submission(
        public_key, "simple", "1", instance_id, instance_xml("simple", "1", instance_id)
    )
    wrong = collect.post(
        f"{live_server.url}{other_device.base_path}/submission",
        files=requests_files(sent.manifest, sent.files),
        timeout=10,
    )
    assert wrong.status_code == 400
    assert "is not encrypted" in wrong.text


def test_entity_updates_wait_for_the_passphrase(
    app: Flask,
    factories: Factories,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    encrypted: tuple[Project, ProjectKey],
) -> None:
    """No survivor record on receipt; created when a coordinator decrypts the batch."""
    project, _key = encrypted
    instance_id, _sent, response = fill_and_send(collect, live_server, device, code="SV-0042")
    assert response.status_code == 201
    runtime = app.extensions["fieldsync"]

    def survivors() -> list[Entity]:
        with runtime.session_factory() as session:
            return list(
                session.scalars(
                    select(Entity)
                    .join(EntityList, EntityList.id == Entity.list_id)
                    .where(EntityList.project_id == project.id, EntityList.name == "survivors")
                )
            )

    assert survivors() == []
    coordinator = factories.logged_in(project, Role.COORDINATOR)
    url = f"{live_server.url}/api/v1/projects/{project.id}/encrypted-submissions/entities"
    assert requests.get(url, headers=coordinator.headers, timeout=10).json() == {"pending": 1}

    wrong = requests.post(
        url, json={"passphrase": "not the passphrase"}, headers=coordinator.headers, timeout=30
    )
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "encryption.wrong_passphrase"
    assert survivors() == []

    viewer = factories.logged_in(project, Role.VIEWER)
    denied = requests.post(
        url, json={"passphrase": ENCRYPTION_PASSPHRASE}, headers=viewer.headers, timeout=30
    )
    assert denied.status_code == 403

    applied = requests.post(
        url, json={"passphrase": ENCRYPTION_PASSPHRASE}, headers=coordinator.headers, timeout=30
    )
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"applied": [instance_id], "held": {}}
    [survivor] = survivors()
    assert survivor.label == "SV-0042"
    assert requests.get(url, headers=coordinator.headers, timeout=10).json() == {"pending": 0}
    # Applied once: a second batch finds nothing to do.
    again = requests.post(
        url, json={"passphrase": ENCRYPTION_PASSPHRASE}, headers=coordinator.headers, timeout=30
    )
    assert again.json() == {"applied": [], "held": {}}
    assert len(survivors()) == 1


def test_survivor_scope_encrypts_only_survivor_forms(factories: Factories) -> None:
    project, key = factories.encrypted_project(scope=KeyScope.SURVIVOR_FORMS)
    survivor = publish_fixture(factories, project, "survivor_intake")
    hazard = publish_fixture(factories, project, "hazard_registration")
    assert survivor.version.key_id == key.id
    assert "base64RsaPublicKey" in survivor.version.xml
    assert hazard.version.key_id is None
    assert "base64RsaPublicKey" not in hazard.version.xml
    assert hazard.version.version == "1"

    plain = factories.project()
    result = publish_fixture(factories, plain, "survivor_intake")
    assert result.version.key_id is None
    assert any("survivor form published unencrypted" in w for w in result.warnings)
