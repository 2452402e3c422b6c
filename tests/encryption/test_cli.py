"""The encryption commands, run as an operator runs them: ``init`` (a new project's survivor
forms encrypted), ``project encrypt ID``, ``export --passphrase-stdin``, ``project
decrypt-entities ID``."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.cli import main
from server.entities.models import Entity
from server.forms.models import Form, FormVersion
from server.projects.models import KeyScope, Project, ProjectKey
from tests.encryption.collect import encrypt_submission, public_key_from_xform
from tests.encryption.test_encrypted_submissions import NAME, survivor_instance
from tests.factories import ENCRYPTION_PASSPHRASE, Factories
from tests.openrosa.helpers import OPENROSA, PHOTO, form_data, new_instance_id, publish_fixture

# The survivors list goes only to devices assigned its forms (ADR 0015).
SURVIVOR_FORMS = ("survivor_intake",)


@pytest.fixture
def cli_env(app: Flask, database_url: str) -> dict[str, str]:
    # The app's data directory: the commands read the blobs its tablets sent.
    return {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(app.extensions["fieldsync"].settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def current_versions(app: Flask, project_id: int) -> dict[str, FormVersion]:
    with app.extensions["fieldsync"].session_factory() as session:
        rows = session.execute(
            select(Form, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project_id, FormVersion.version == Form.current_version)
        )
        return {form.xml_form_id: version for form, version in rows}


def send_encrypted(client: FlaskClient, factories: Factories, project: Project) -> str:
    """A tablet of the project sends one encrypted survivor_intake (with its photo)."""
    device = factories.device(project, forms_assigned=SURVIVOR_FORMS)
    xform = client.get(f"{device.base_path}/forms/survivor_intake.xml", headers=OPENROSA)
    text = xform.get_data(as_text=True)
    version = text.split('id="survivor_intake" version="', 1)[1].split('"', 1)[0]
    instance_id = new_instance_id()
    sent = encrypt_submission(
        public_key_from_xform(text),
        "survivor_intake",
        version,
        instance_id,
        survivor_instance(version, instance_id, "SV-0077"),
        {"consent.jpg": PHOTO},
    )
    response = client.post(
        f"{device.base_path}/submission",
        data=form_data(sent.manifest, sent.files),
        headers=OPENROSA,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return instance_id


def test_init_encrypts_a_new_projects_survivor_forms(app: Flask, cli_env: dict[str, str]) -> None:
    first = run(cli_env, "init", "--passphrase-stdin", stdin=ENCRYPTION_PASSPHRASE + "\n")
    assert first.exit_code == 0, first.output
    assert "survivor forms are encrypted with key" in first.output
    assert "encryption passphrase" not in first.output  # given, so not printed
    versions = current_versions(app, 1)
    for survivor_form in ("survivor_needs_assessment", "survivor_followup"):
        assert versions[survivor_form].key_id is not None, survivor_form
        assert "base64RsaPublicKey" in versions[survivor_form].xml
        assert versions[survivor_form].version.endswith(
            f"[encrypted:{versions[survivor_form].key_id}]"
        )
    for plain_form in ("hazard_report", "clearance_report", "eore_session"):
        assert versions[plain_form].key_id is None, plain_form
        assert "base64RsaPublicKey" not in versions[plain_form].xml
    # Running init again changes nothing: the same encrypted versions, no new key.
    second = run(cli_env, "init")
    assert second.exit_code == 0, second.output
    assert "survivor_needs_assessment version" in second.output
    assert not [line for line in second.output.splitlines() if line.endswith(": published")]
    assert {n: v.id for n, v in current_versions(app, 1).items()} == {
        n: v.id for n, v in versions.items()
    }


def test_init_prints_a_generated_passphrase_once_or_makes_no_key(
    app: Flask, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first = run(cli_env, "init", "--no-forms")
    assert first.exit_code == 0, first.output
    lines = [line for line in first.output.splitlines() if "encryption passphrase" in line]
    assert len(lines) == 1
    passphrase = lines[0].rsplit(" ", 1)[1]
    assert len(passphrase) >= 20
    with app.extensions["fieldsync"].session_factory() as session:
        key = session.scalars(select(ProjectKey)).one()
        assert key.scope == KeyScope.SURVIVOR_FORMS.value
        assert passphrase.encode() not in key.private_key_sealed  # sealed, never stored
    again = run(cli_env, "init", "--no-forms")
    assert "encryption passphrase" not in again.output

    plain_env = {**cli_env, "FIELDSYNC_DATA_DIR": str(tmp_path / "other")}
    run(plain_env, "projects", "list")  # same database: the project exists already
    plain = run(cli_env, "projects", "create", "Plain programme")
    assert plain.exit_code == 0
    assert "survivor forms are published unencrypted" in plain.stderr


def test_project_encrypt_republishes_and_export_decrypts_with_the_passphrase(
    app: Flask,
    cli_env: dict[str, str],
    client: FlaskClient,
    factories: Factories,
    tmp_path: Path,
) -> None:
    project = factories.project()
    publish_fixture(factories, project, "survivor_intake")
    publish_fixture(factories, project, "hazard_registration")
    assert current_versions(app, project.id)["survivor_intake"].key_id is None

    turned_on = run(
        cli_env,
        "project",
        "encrypt",
        str(project.id),
        "--passphrase-stdin",
        "--hint",
        "the survivors line",
        stdin=ENCRYPTION_PASSPHRASE + "\n",
    )
    assert turned_on.exit_code == 0, turned_on.output
    assert "encryption key" in turned_on.output
    assert "form survivor_intake version 1[encrypted:" in turned_on.output
    assert "form hazard_registration version 1[encrypted:" in turned_on.output
    versions = current_versions(app, project.id)
    assert versions["survivor_intake"].key_id == versions["hazard_registration"].key_id

    instance_id = send_encrypted(client, factories, project)
    out = tmp_path / "survivors.csv.zip"

    wrong = run(
        cli_env,
        "export",
        "survivor_intake",
        "--project",
        str(project.id),
        "--format",
        "csv.zip",
        "--out",
        str(out),
        "--passphrase-stdin",
        stdin="not the passphrase\n",
    )
    assert wrong.exit_code != 0
    assert wrong.stderr.strip().splitlines() == [
        "error: the passphrase does not open this project's key; nothing was decrypted"
    ]
    assert not out.exists()
    assert list(tmp_path.glob("survivors*")) == []

    right = run(
        cli_env,
        "export",
        "survivor_intake",
        "--project",
        str(project.id),
        "--format",
        "csv.zip",
        "--out",
        str(out),
        "--passphrase-stdin",
        stdin=ENCRYPTION_PASSPHRASE + "\n",
    )
    assert right.exit_code == 0, right.output
    with zipfile.ZipFile(out) as archive:
        rows = list(
            csv.DictReader(io.StringIO(archive.read("survivor_intake.csv").decode("utf-8-sig")))
        )
        assert archive.read("media/consent.jpg") == PHOTO
    assert [(r["KEY"], r["pii_name"]) for r in rows] == [(instance_id, NAME)]

    # The survivor record waits for the passphrase; decrypt-entities applies it.
    with factories.session() as session:
        assert list(session.scalars(select(Entity))) == []
    refused = run(
        cli_env,
        "project",
        "decrypt-entities",
        str(project.id),
        "--passphrase-stdin",
        stdin="not the passphrase\n",
    )
    assert refused.exit_code != 0
    applied = run(
        cli_env,
        "project",
        "decrypt-entities",
        str(project.id),
        "--passphrase-stdin",
        stdin=ENCRYPTION_PASSPHRASE + "\n",
    )
    assert applied.exit_code == 0, applied.output
    assert "applied the entity updates of 1 encrypted submissions" in applied.output
    with factories.session() as session:
        assert [e.label for e in session.scalars(select(Entity))] == ["SV-0077"]


def test_project_encrypt_with_a_short_passphrase_is_refused(
    cli_env: dict[str, str], factories: Factories
) -> None:
    project = factories.project()
    result = run(
        cli_env, "project", "encrypt", str(project.id), "--passphrase-stdin", stdin="short\n"
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.stderr
