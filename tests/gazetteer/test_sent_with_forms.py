"""The gazetteer reaches devices without a separate step: ``init`` sends it with the bundled
forms, and a form published later gets the file the project's forms already carry."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.cli import main as server_cli
from server.forms.models import Form, FormAttachment, FormVersion
from server.gazetteer import service
from server.projects.models import Project
from tests.factories import Factories

HEADERS = {"X-OpenRosa-Version": "1.0"}


def gazetteer_hash(client: FlaskClient, base_path: str, form_id: str) -> str | None:
    body = client.get(f"{base_path}/forms/{form_id}/manifest", headers=HEADERS).data.decode()
    found = re.search(r"<filename>gazetteer.csv</filename>\s*<hash>([^<]+)</hash>", body)
    return found.group(1) if found else None


def attached(factories: Factories, project_id: int) -> dict[str, str | None]:
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormAttachment.blob_sha256)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .join(FormAttachment, FormAttachment.form_version_id == FormVersion.id)
            .where(Form.project_id == project_id, FormAttachment.name == "gazetteer.csv")
        ).all()
    return {form_id: sha for form_id, sha in rows}


def test_init_sends_the_bundled_gazetteer_with_the_bundled_forms(
    app: Flask, database_url: str, tmp_path: Path, factories: Factories
) -> None:
    result = CliRunner().invoke(
        server_cli,
        ["init", "--admin-email", "im.officer@example.org"],
        env={
            "DATABASE_URL": database_url,
            "FIELDSYNC_DATA_DIR": str(tmp_path / "d"),
            "FIELDSYNC_LOG_LEVEL": "WARNING",
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "place list sent with forms:" in result.output
    with factories.session() as session:
        project_id = session.scalars(select(Project.id)).one()
    sent = attached(factories, project_id)
    assert "hazard_report" in sent
    assert None not in sent.values(), sent
    assert len(set(sent.values())) == 1


def test_a_form_published_later_carries_the_projects_gazetteer(
    factories: Factories, client: FlaskClient, tmp_path: Path
) -> None:
    project = factories.project()
    factories.publish_library(project)
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        service.publish(session, factories.runtime.blobs, db_project)
        xml = session.scalars(
            select(FormVersion.xml)
            .join(Form, Form.id == FormVersion.form_id)
            .where(Form.project_id == project.id, Form.xml_form_id == "hazard_report")
        ).one()
        session.commit()
    device = factories.device(project)
    expected = gazetteer_hash(client, device.base_path, "hazard_report")
    assert expected is not None

    copy = tmp_path / "hazard_report_copy.xml"
    copy.write_text(
        xml.replace('id="hazard_report"', 'id="hazard_report_copy"', 1), encoding="utf-8"
    )
    factories.publish(project, copy)
    assert gazetteer_hash(client, device.base_path, "hazard_report_copy") == expected
