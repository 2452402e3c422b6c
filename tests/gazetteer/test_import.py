"""Importing a gazetteer: the command, refusals that change nothing, and the media devices get."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.cli import main as server_cli
from server.errors import Problem
from server.forms.models import FormAttachment
from server.gazetteer import core, service
from server.gazetteer.models import GazetteerArea
from server.projects.models import Project
from server.settings import BUNDLED_FORMS_DIR
from tests.factories import Factories

CAMBODIA = (
    "admin_level,pcode,parent_pcode,name_en,name_km\n"
    "1,KH01,,Banteay Meanchey,បន្ទាយមានជ័យ\n"
    "2,KH0102,KH01,Mongkol Borei,មង្គលបូរី\n"
    "2,KH0103,KH01,Phnum Srok,ភ្នំស្រុក\n"
)


def area_count(factories: Factories, project_id: int) -> int:
    with factories.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(GazetteerArea)
                .where(GazetteerArea.project_id == project_id)
            )
            or 0
        )


def run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        server_cli,
        ["gazetteer", *args],
        env={"DATABASE_URL": database_url, "FIELDSYNC_DATA_DIR": str(tmp_path / "d")},
    )
    return result.exit_code, result.output.strip().splitlines()


def test_import_replaces_the_gazetteer_and_reaches_every_form(
    factories: Factories, database_url: str, tmp_path: Path
) -> None:
    project = factories.project()
    factories.publish_library(project)
    path = tmp_path / "cambodia.csv"
    path.write_text(CAMBODIA, encoding="utf-8")
    code, lines = run(database_url, tmp_path, "import", str(path), "--project", str(project.id))
    assert code == 0, lines
    assert lines == [
        "gazetteer: 1 at level 1, 2 at level 2; place list sent with forms: accident_report, "
        "eod_report, eore_session, hazard_report, survivor_needs_assessment"
    ]
    assert area_count(factories, project.id) == 3


def test_a_refused_file_names_the_row_and_changes_nothing(
    factories: Factories, database_url: str, tmp_path: Path
) -> None:
    project = factories.project()
    factories.publish_library(project)
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        service.publish(session, factories.runtime.blobs, db_project)
        session.commit()
    before = area_count(factories, project.id)
    assert before == 166
    for name, text, message in [
        ("dup.csv", CAMBODIA + "2,KH0102,KH01,Again,\n", "row 5: P-code KH0102 appears twice"),
        ("orphan.csv", CAMBODIA + "2,KH0201,KH02,Mongkol,\n", "row 5 (KH0201): parent P-code KH02"),
        ("cycle.csv", CAMBODIA + "2,KH0104,KH0105,A,\n2,KH0105,KH0104,B,\n", "cycle"),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        code, lines = run(database_url, tmp_path, "import", str(path))
        assert code == 1
        assert len(lines) == 1
        assert lines[0].startswith(f"error: {name}: row ")
        assert message in lines[0]
        assert area_count(factories, project.id) == before


def test_a_missing_file_is_a_usage_error(database_url: str, tmp_path: Path) -> None:
    code, lines = run(database_url, tmp_path, "import", str(tmp_path / "nope.csv"))
    assert code == 2
    assert lines == [f"error: {tmp_path / 'nope.csv'}: no such file"]


def test_devices_get_the_new_place_list_at_their_next_form_update(
    factories: Factories, client: FlaskClient
) -> None:
    project = factories.project()
    factories.publish_library(project)
    device = factories.device(project)
    headers = {"X-OpenRosa-Version": "1.0"}
    manifest_url = f"{device.base_path}/forms/hazard_report/manifest"

    def media() -> dict[str, str]:
        body = client.get(manifest_url, headers=headers).data.decode()
        return {
            name: body.split(f"<filename>{name}</filename>")[1].split("<hash>")[1][:36]
            for name in ("gazetteer.csv",)
            if f"<filename>{name}</filename>" in body
        }

    assert media() == {}  # not sent until a gazetteer is published
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        result = service.publish(session, factories.runtime.blobs, db_project)
        session.commit()
    assert result.bundled
    lao = core.BUNDLED_GAZETTEER.parent.joinpath(core.MEDIA_NAME).read_bytes()
    assert media() == {
        "gazetteer.csv": "md5:" + hashlib.md5(lao, usedforsecurity=False).hexdigest()
    }
    download = client.get(
        f"{device.base_path}/forms/hazard_report/attachments/gazetteer.csv", headers=headers
    )
    assert download.status_code == 200
    assert download.data == lao

    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        service.import_gazetteer(
            session, factories.runtime.blobs, db_project, "kh.csv", CAMBODIA.encode()
        )
        session.commit()
    changed = media()["gazetteer.csv"]
    assert changed != "md5:" + hashlib.md5(lao, usedforsecurity=False).hexdigest()
    download = client.get(
        f"{device.base_path}/forms/hazard_report/attachments/gazetteer.csv", headers=headers
    )
    assert b"KH0102,Mongkol Borei" in download.data
    with factories.session() as session:
        names = service.names(session, project.id, ["KH0102", "LA01"])
    assert names == {"KH0102": "Mongkol Borei"}


def test_the_service_refuses_with_a_problem(factories: Factories) -> None:
    project = factories.project()
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        try:
            service.import_gazetteer(
                session, factories.runtime.blobs, db_project, "x.csv", b"pcode\nLA01\n"
            )
        except Problem as problem:
            assert (problem.status, problem.code) == (400, "gazetteer.invalid")
            assert problem.detail.startswith("x.csv: row 1:")
        else:
            raise AssertionError("the file was accepted")
        assert session.scalars(select(FormAttachment)).first() is None


def test_every_form_that_asks_for_a_place_uses_the_gazetteer() -> None:
    sources = sorted((BUNDLED_FORMS_DIR / "src").glob("*.md"))
    using = {p.stem for p in sources if "select_one_from_file gazetteer.csv" in p.read_text()}
    # The others ask for a record (hazard area, survivor) that already carries its place.
    without = {"clearance_report", "completion_report", "survivor_followup"}
    assert using == {p.stem for p in sources} - without
