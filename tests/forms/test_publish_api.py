"""Publishing forms through the JSON API and the CLI: versions, hashes, media and refusals."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select

from server.accounts.models import Role
from server.cli import main as server_cli
from server.forms.models import Form, FormVersion
from server.settings import BUNDLED_FORMS_DIR
from tests.factories import Factories, LoggedIn

LIBRARY = sorted(BUNDLED_FORMS_DIR.glob("*.xlsx"))


def xlsform(
    survey: list[list[str]],
    choices: list[list[str]] | None = None,
    settings: dict[str, str] | None = None,
    entities: list[list[str]] | None = None,
) -> bytes:
    """Build a small XLSForm workbook in memory, as an officer would in a spreadsheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    if choices is not None:
        choice_sheet = book.create_sheet("choices")
        for row in choices:
            choice_sheet.append(row)
    settings = {"form_id": "tiny", "version": "1", **(settings or {})}
    settings_sheet = book.create_sheet("settings")
    settings_sheet.append(list(settings))
    settings_sheet.append(list(settings.values()))
    if entities is not None:
        entity_sheet = book.create_sheet("entities")
        for row in entities:
            entity_sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD_SURVEY = [["type", "name", "label"], ["text", "place", "Place"]]


@pytest.fixture
def admin(factories: Factories) -> tuple[int, LoggedIn]:
    project = factories.project()
    return project.id, factories.logged_in(project, Role.ADMINISTRATOR)


def publish(client: FlaskClient, project_id: int, who: LoggedIn, name: str, data: bytes) -> object:
    return client.post(
        f"/api/v1/projects/{project_id}/forms",
        headers=who.headers,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def form_count(factories: Factories) -> int:
    with factories.session() as db:
        return int(db.scalar(select(func.count()).select_from(Form)) or 0)


def test_library_is_present() -> None:
    assert {p.stem for p in LIBRARY} >= {
        "hazard_report",
        "clearance_report",
        "completion_report",
        "eore_session",
        "accident_report",
        "survivor_needs_assessment",
        "survivor_followup",
    }


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_each_library_form_publishes_and_downloads_with_hash_and_version(
    client: FlaskClient, admin: tuple[int, LoggedIn], path: Path
) -> None:
    project_id, who = admin
    response = publish(client, project_id, who, path.name, path.read_bytes())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["form_id"] == path.stem
    if path.stem.startswith("survivor_"):
        # A project without an encryption key publishes survivor forms in clear, and says so.
        assert [w for w in body["warnings"] if "published unencrypted" in w] == body["warnings"]
        assert len(body["warnings"]) == 1
    else:
        assert body["warnings"] == []
    version = body["published_version"]
    assert version

    xml = client.get(
        f"/api/v1/projects/{project_id}/forms/{path.stem}/versions/{version}.xml",
        headers=who.headers,
    )
    assert xml.status_code == 200
    assert body["hash"] == "md5:" + hashlib.md5(xml.data, usedforsecurity=False).hexdigest()
    assert f'id="{path.stem}"'.encode() in xml.data
    assert f'version="{version}"'.encode() in xml.data


def test_library_declares_entity_lists_and_links_them(
    factories: Factories, client: FlaskClient, admin: tuple[int, LoggedIn]
) -> None:
    project_id, who = admin
    with factories.session() as db:
        from server.projects.models import Project

        project = db.get(Project, project_id)
    assert project is not None
    factories.publish_library(project)
    forms = {
        f["form_id"]: f
        for f in client.get(f"/api/v1/projects/{project_id}/forms", headers=who.headers).json
    }
    assert forms["hazard_report"]["entities"]["dataset"] == "hazard_areas"
    assert forms["hazard_report"]["entities"]["create"] is True
    assert forms["survivor_needs_assessment"]["entities"]["dataset"] == "survivors"
    assert forms["survivor_followup"]["entities"]["update"] is True
    clearance_media = {a["name"]: a for a in forms["clearance_report"]["attachments"]}
    assert clearance_media["hazard_areas.csv"]["kind"] == "entity_list"
    assert clearance_media["hazard_areas.csv"]["entity_list"] == "hazard_areas"
    followup_media = {a["name"]: a for a in forms["survivor_followup"]["attachments"]}
    assert followup_media["survivors.csv"]["kind"] == "entity_list"


def test_versions_add_and_old_ones_stay_readable(
    client: FlaskClient, admin: tuple[int, LoggedIn]
) -> None:
    project_id, who = admin
    first = xlsform(GOOD_SURVEY, settings={"version": "1"})
    second = xlsform(
        [*GOOD_SURVEY, ["integer", "people", "People present"]], settings={"version": "2"}
    )
    assert publish(client, project_id, who, "tiny.xlsx", first).status_code == 201
    again = publish(client, project_id, who, "tiny.xlsx", first)
    assert again.status_code == 200
    assert again.json["created"] is False
    assert publish(client, project_id, who, "tiny.xlsx", second).status_code == 201

    detail = client.get(f"/api/v1/projects/{project_id}/forms/tiny", headers=who.headers).json
    assert detail["version"] == "2"
    assert [v["version"] for v in detail["versions"]] == ["1", "2"]
    old = client.get(
        f"/api/v1/projects/{project_id}/forms/tiny/versions/1.xml", headers=who.headers
    )
    assert old.status_code == 200
    assert b"people" not in old.data


def test_same_version_with_different_body_is_refused(
    client: FlaskClient, factories: Factories, admin: tuple[int, LoggedIn]
) -> None:
    project_id, who = admin
    publish(client, project_id, who, "tiny.xlsx", xlsform(GOOD_SURVEY))
    changed = xlsform([*GOOD_SURVEY, ["integer", "people", "People"]])
    response = publish(client, project_id, who, "tiny.xlsx", changed)
    assert response.status_code == 409
    assert response.json["code"] == "form.version_conflict"
    with factories.session() as db:
        assert db.scalar(select(func.count()).select_from(FormVersion)) == 1


@pytest.mark.parametrize(
    ("workbook", "expected"),
    [
        pytest.param(
            xlsform([["type", "name", "label"], ["txet", "place", "Place"]]),
            ["survey", "[row : 2]", "txet"],
            id="bad type",
        ),
        pytest.param(
            xlsform(
                [["type", "name", "label"], ["text", "place", "Place"], ["text", "place", "Again"]]
            ),
            ["survey", "[row : 3]", "place"],
            id="duplicate name",
        ),
        pytest.param(
            xlsform(
                [
                    ["type", "name", "label", "relevant"],
                    ["text", "place", "Place", ""],
                    ["text", "who", "Who", "${place} = = 'x'"],
                ]
            ),
            ["survey", "[row : 3]", "relevant"],
            id="bad xpath in relevant",
        ),
        pytest.param(
            xlsform(
                [["type", "name", "label"], ["select_one colours", "c", "Colour"]],
                choices=[["list_name", "name", "label"], ["sizes", "s", "Small"]],
            ),
            ["colours"],
            id="missing choices list",
        ),
        pytest.param(
            xlsform(
                [["type", "name", "label", "save_to"], ["text", "place", "Place", "place"]],
                entities=[["list_name", "label"], ["areas", "${nowhere}"]],
            ),
            ["entities", "nowhere"],
            id="entities sheet names unknown field",
        ),
    ],
)
def test_broken_xlsform_is_refused_with_pyxforms_explanation(
    client: FlaskClient,
    factories: Factories,
    admin: tuple[int, LoggedIn],
    workbook: bytes,
    expected: list[str],
) -> None:
    project_id, who = admin
    response = publish(client, project_id, who, "broken.xlsx", workbook)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "form.invalid"
    detail = response.json["detail"].lower()
    for fragment in expected:
        assert fragment.lower() in detail, detail
    assert form_count(factories) == 0


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (80 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 400, "form.unsupported_file"),
        ("notes.xlsx", b"just some text, not a workbook", 400, "form.unsupported_file"),
        ("damaged.xlsx", b"PK\x03\x04" + b"\0" * 200, 400, "form.unsupported_file"),
        ("bomb.xlsx", None, 400, "form.unsafe_file"),
        (
            "evil.xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            400,
            "xml.forbidden_construct",
        ),
        ("not-xform.xml", b"<hello/>", 400, "form.invalid"),
    ],
)
def test_non_forms_are_refused_clearly(
    client: FlaskClient,
    factories: Factories,
    admin: tuple[int, LoggedIn],
    name: str,
    data: bytes | None,
    status: int,
    code: str,
) -> None:
    project_id, who = admin
    response = publish(client, project_id, who, name, data if data is not None else zip_bomb())
    assert response.status_code == status
    assert response.json["code"] == code
    assert form_count(factories) == 0


def test_file_over_the_size_limit_is_refused(
    client: FlaskClient, factories: Factories, admin: tuple[int, LoggedIn]
) -> None:
    project_id, who = admin
    limit = factories.runtime.settings.max_form_bytes
    response = publish(client, project_id, who, "huge.xlsx", b"PK\x03\x04" + b"\0" * limit)
    assert response.status_code == 413
    assert response.json["code"] == "request.too_large"
    assert form_count(factories) == 0


def test_only_administrators_publish(client: FlaskClient, factories: Factories) -> None:
    project = factories.project()
    coordinator = factories.logged_in(project, Role.COORDINATOR)
    response = publish(client, project.id, coordinator, "tiny.xlsx", xlsform(GOOD_SURVEY))
    assert response.status_code == 403


def test_cli_publish_of_a_broken_form_is_one_line(
    factories: Factories, database_url: str, tmp_path: Path
) -> None:
    factories.project()
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(xlsform([["type", "name", "label"], ["txet", "place", "Place"]]))
    result = CliRunner().invoke(
        server_cli,
        ["forms", "publish", str(broken)],
        env={"DATABASE_URL": database_url, "FIELDSYNC_DATA_DIR": str(tmp_path / "d")},
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: broken.xlsx:")
    assert "txet" in lines[0]
    assert form_count(factories) == 0
