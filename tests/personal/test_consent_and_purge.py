"""Consent enforced end to end, and the retention purge: a follow-up answering no, or a
caseworker's API call, takes the person off every device at its next refresh and out of every
export, leaving an audited tombstone; `personal-data purge` removes personal answers, files
and properties past the form's retention period, leaving pseudonymous records and counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import requests
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from server.audit.models import AuditEntry
from server.blobs.models import Blob
from server.cli import main
from server.db import utcnow
from server.entities.models import Entity
from server.submissions.models import SubmissionAttachment, SubmissionVersion
from tests.personal.conftest import Programme
from tests.personal.test_who_sees_what import (
    HEALTH,
    NAME,
    PHONE,
    register_case,
    register_survivor,
)


def device_list(p: Programme) -> tuple[str, dict[str, dict[str, str]]]:
    manifest = p.device_get(p.va_device, "/forms/survivor_followup/manifest").text
    entry = manifest.split("<filename>survivors.csv</filename>")[1]
    md5 = entry.split("<hash>")[1].split("</hash>")[0]
    listing = p.device_get(p.va_device, "/forms/survivor_followup/attachments/survivors.csv")
    return md5, {r["name"]: r for r in csv.DictReader(io.StringIO(listing.text))}


def audit(p: Programme, action: str) -> list[AuditEntry]:
    with p.factories.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_withdrawn_consent_leaves_devices_and_exports_and_keeps_a_tombstone(
    programme: Programme,
) -> None:
    p = programme
    first, first_instance = register_survivor(p, "SV-0001", sharing="yes")
    second, _ = register_survivor(p, "SV-0002", sharing="yes")
    before, rows = device_list(p)
    assert set(rows) == {first, second}
    # A follow-up: the person no longer agrees to be followed up.
    followup = p.fill(
        "survivor_followup",
        entity_id=first,
        update=True,
        base_version=1,
        values={"consent_followup": "no", "consent_sharing": "no", "survivor_code": "SV-0001"},
    )
    assert p.submit(p.va_device, followup).status_code == 201
    after, rows = device_list(p)
    assert after != before, "the manifest hash must change so devices refresh"
    assert set(rows) == {second}
    (tombstone,) = audit(p, "personal_data.consent_withdrawn")
    assert tombstone.target_id == f"survivors/{first}"
    assert tombstone.details["source"] == "followup"
    assert NAME not in str(tombstone.details)
    # Exports: the record and its submissions are gone, for the caseworker too.
    for role in ("caseworker", "coordinator"):
        people_csv = p.get(role, f"{p.api}/entity-lists/survivors/entities.csv").text
        assert first not in people_csv and second in people_csv, role
        export = p.get(role, f"{p.api}/forms/survivor_needs_assessment/submissions.csv").text
        assert "SV-0001" not in export and "SV-0002" in export, role
    # The caseworker still sees the pseudonymous record with its tombstone, not the name.
    record = p.get("caseworker", f"{p.api}/entity-lists/survivors/entities/{first}").json()
    assert record["consent_withdrawn"] is True
    survey = f"{p.api}/forms/survivor_needs_assessment/submissions/{first_instance}"
    assert NAME not in p.get("caseworker", survey).json()["xml"]
    # The API call: only coordinators and caseworkers record a withdrawal.
    url = f"{p.api}/entity-lists/survivors/entities/{second}/consent-withdrawal"
    refused = requests.post(url, headers=p.people["data_collector"].headers, timeout=30)
    assert refused.status_code == 403
    done = requests.post(url, headers=p.people["caseworker"].headers, timeout=30)
    assert done.status_code == 201 and done.json()["withdrawn"] is True
    again = requests.post(url, headers=p.people["caseworker"].headers, timeout=30)
    assert again.status_code == 200 and again.json()["new"] is False
    _, rows = device_list(p)
    assert rows == {}
    api_stones = [
        e for e in audit(p, "personal_data.consent_withdrawn") if e.target_id.endswith(second)
    ]
    assert [e.actor_user_id for e in api_stones] == [p.people["caseworker"].user.id]


def _env(app: Flask) -> dict[str, str]:
    settings = app.extensions["fieldsync"].settings
    return {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def test_the_purge_removes_personal_data_past_retention_and_keeps_the_rest(
    app: Flask, programme: Programme
) -> None:
    p = programme
    case, instance = register_case(p)
    old = p.fill("case_visit", values={"village": "Ban Old", "phone": "+856 20 9999 0000"})
    assert p.submit(p.other_device, old).status_code == 201
    # The first report is a year old; the other one is recent.
    with p.factories.session() as session:
        session.execute(
            update(SubmissionVersion)
            .where(SubmissionVersion.instance_id.in_([instance]))
            .values(received_at=utcnow() - timedelta(days=400))
        )
        face_sha = session.scalar(
            select(SubmissionAttachment.blob_sha256).where(SubmissionAttachment.name == "face.jpg")
        )
        session.commit()
    env = _env(app)
    project = ["--project", str(p.project.id)]
    nothing = CliRunner().invoke(main, ["personal-data", "purge", "--dry-run"], env=env)
    assert "no form has a retention period" in nothing.output
    result = CliRunner().invoke(
        main, ["personal-data", "retention", "case_visit", "365", *project], env=env
    )
    assert result.exit_code == 0, result.output
    dry = CliRunner().invoke(main, ["personal-data", "purge", "--dry-run", *project], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would remove personal answers of 1 submission versions, 1 files" in dry.output
    xml = p.get("caseworker", f"{p.api}/forms/case_visit/submissions/{instance}").json()["xml"]
    assert PHONE in xml, "a dry run changes nothing"
    result = CliRunner().invoke(main, ["personal-data", "purge", *project], env=env)
    assert result.exit_code == 0, result.output
    assert "removed personal answers of 1 submission versions, 1 files, personal " in result.output
    # Even the caseworker finds no personal data left in the old report or its record.
    body = p.get("caseworker", f"{p.api}/forms/case_visit/submissions/{instance}").json()
    assert PHONE not in body["xml"] and HEALTH not in body["xml"]
    assert "Ban Nakham" in body["xml"]
    face = p.get(
        "caseworker", f"{p.api}/forms/case_visit/submissions/{instance}/attachments/face.jpg"
    )
    assert face.status_code == 404
    with p.factories.session() as session:
        assert session.get(Blob, face_sha) is None
        entity = session.scalars(select(Entity).where(Entity.uuid == case)).one()
        assert "phone" not in entity.values and entity.values["village"] == "Ban Nakham"
    versions = p.get("caseworker", f"{p.api}/entity-lists/cases/entities/{case}/versions").text
    assert PHONE not in versions and HEALTH not in versions
    assert not p.factories.runtime.blobs.path(face_sha).exists()
    # The recent report keeps its answers; the purge is audited with its counts.
    recent = p.get("caseworker", f"{p.api}/forms/case_visit/submissions/{old.instance_id}")
    assert "+856 20 9999 0000" in recent.json()["xml"]
    (entry,) = audit(p, "personal_data.purge")
    assert entry.target_id == "case_visit" and entry.details["versions"] == 1
    assert entry.details["files"] == 1 and entry.details["entities"] == 1
