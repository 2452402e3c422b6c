"""An encrypted survivor form in ODK's own XForms engine: the XForm published with the project's
``base64RsaPublicKey`` still loads and completes in the engine, and what the engine submits,
encrypted as Collect encrypts it, is decrypted by the export and, with the passphrase, creates
the survivor record."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

import requests
from flask import Flask
from pyxform.validators import odk_validate
from sqlalchemy import select

from server.entities.models import Entity, EntityList
from server.gazetteer import service as gazetteer
from server.projects.models import KeyScope, Project
from tests.conftest import LiveServer
from tests.encryption.collect import encrypt_submission, public_key_from_xform
from tests.factories import ENCRYPTION_PASSPHRASE, Factories

from .conftest import RunForm
from .test_form_library import LANGUAGE
from .test_odk_engine import FILLINGS, Tablet

FORM = "survivor_needs_assessment"

# The survivors list goes only to devices assigned its forms (ADR 0015).
SURVIVOR_FORMS = ("survivor_needs_assessment", "survivor_followup")


def test_an_encrypted_survivor_form_runs_in_the_engine_and_decrypts_through_the_export(
    odk_engine: RunForm,
    app: Flask,
    factories: Factories,
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    project, key = factories.encrypted_project(scope=KeyScope.SURVIVOR_FORMS)
    factories.publish_library(project)
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        gazetteer.publish(session, factories.runtime.blobs, db_project)
        session.commit()
    tablet = Tablet(
        live_server, factories.device(project, forms_assigned=SURVIVOR_FORMS).base_path, tmp_path
    )

    path = tablet.download(FORM)
    xform = path.read_text(encoding="utf-8")
    assert re.search(r'<submission [^>]*base64RsaPublicKey="' + re.escape(key.public_key), xform)
    if shutil.which("java") is not None:
        # ODK Validate (JavaRosa, as ODK Collect) accepts the encrypted XForm; raises if not.
        odk_validate.check_xform(str(path))
    report = odk_engine(path, tmp_path, language=LANGUAGE, answers=FILLINGS[FORM])
    assert report["violations"] == []
    assert report["status"] == "ready"
    submitted = report["submission"]
    version = re.search(r'version="([^"]+)"', submitted)
    instance_id = re.search(r"<instanceID>([^<]+)</instanceID>", submitted)
    assert version and instance_id
    assert version.group(1).endswith(f"[encrypted:{key.id}]")

    sent = encrypt_submission(
        public_key_from_xform(xform),
        FORM,
        version.group(1),
        instance_id.group(1),
        submitted.encode(),
    )
    files = [("xml_submission_file", ("submission.xml", sent.manifest, "text/xml"))]
    files += [(name, (name, data, "application/octet-stream")) for name, data in sent.files.items()]
    response = tablet.http.post(f"{tablet.base}/submission", files=files, timeout=30)
    assert response.status_code == 201, response.text

    admin = factories.logged_in(project, "administrator")
    export = requests.post(
        f"{live_server.url}/v1/projects/{project.id}/forms/{FORM}/submissions.csv.zip",
        json={str(key.id): ENCRYPTION_PASSPHRASE},
        headers=admin.headers,
        timeout=60,
    )
    assert export.status_code == 200, export.text
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read(f"{FORM}.csv").decode("utf-8-sig"))))
    [row] = rows
    assert row["KEY"] == instance_id.group(1)
    assert row["Status"] == ""
    assert "Pek, Xiengkhuang" in row.values()

    def survivors() -> int:
        with factories.session() as session:
            return len(
                list(
                    session.scalars(
                        select(Entity)
                        .join(EntityList, EntityList.id == Entity.list_id)
                        .where(EntityList.project_id == project.id, EntityList.name == "survivors")
                    )
                )
            )

    assert survivors() == 0
    coordinator = factories.logged_in(project, "coordinator")
    applied = requests.post(
        f"{live_server.url}/api/v1/projects/{project.id}/encrypted-submissions/entities",
        json={"passphrase": ENCRYPTION_PASSPHRASE},
        headers=coordinator.headers,
        timeout=60,
    )
    assert applied.json() == {"applied": [instance_id.group(1)], "held": {}}
    assert survivors() == 1
