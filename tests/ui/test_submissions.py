"""The submissions table: sorted by device or submitter, page after page, in the order the
columns say; and its count and pages are those of the rows the caller is shown."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from server.accounts.models import AppUser
from server.exports import table
from server.forms.models import Form
from server.submissions.models import Submission, SubmissionVersion
from tests.entities.test_entity_service import new_area
from tests.ui.browserless import log_in
from tests.ui.conftest import Scene, survivor_assessment

ROW_LINK = re.compile(r'<td><a href="[^"]*/submissions/([^"]+)">')


def _more_reports(scene: Scene) -> None:
    """Three more hazard reports: two from a third tablet named like the first, so a name
    holds two app users, and one more from the second tablet."""
    factories = scene.field.factories
    third = factories.device(scene.project, "Team 1 tablet")
    for device, device_id in ((third, "collect:aaa"), (third, "collect:zzz")):
        report = new_area(scene.field, str(uuid.uuid4()), ha_code="HA-03", admin_area="Sekong")
        report.device_id = device_id
        scene.submit(device, report.xml())
    last = new_area(scene.field, str(uuid.uuid4()), ha_code="HA-04", admin_area="Attapeu")
    last.device_id = "collect:mmm"
    scene.submit(scene.tablets[1], last.xml())


def _expected(scene: Scene, sort: str, descending: bool) -> list[str]:
    """The form's submissions in the table's order, worked out here from the rows."""
    with scene.field.factories.session() as session:
        form = session.scalars(
            select(Form).where(
                Form.project_id == scene.project.id, Form.xml_form_id == "hazard_report"
            )
        ).one()
        rows = session.execute(
            select(Submission.id, Submission.root_instance_id, SubmissionVersion.device_id)
            .add_columns(AppUser.display_name)
            .join(
                SubmissionVersion,
                (SubmissionVersion.form_id == Submission.form_id)
                & (SubmissionVersion.instance_id == Submission.root_instance_id),
            )
            .outerjoin(AppUser, AppUser.id == SubmissionVersion.submitter_app_user_id)
            .where(Submission.form_id == form.id)
        ).all()
    assert len({r.device_id for r in rows}) >= 3 and len({r.display_name for r in rows}) == 2

    def key(row: object) -> tuple[object, int]:
        value = getattr(row, "device_id" if sort == "device" else "display_name")
        return (value, row.id)  # type: ignore[attr-defined]

    return [r.root_instance_id for r in sorted(rows, key=key, reverse=descending)]


def test_sorted_by_device_or_submitter_every_page_follows_the_column(scene: Scene) -> None:
    _more_reports(scene)
    factories = scene.field.factories
    for sort in ("device", "submitter"):
        for descending in (False, True):
            expected = _expected(scene, sort, descending)
            seen = []
            with factories.session() as session:
                for offset in range(len(expected)):  # a page of one row at a time
                    query = table.TableQuery(
                        sort=sort, descending=descending, limit=1, offset=offset
                    )
                    page = table.table_page(
                        session,
                        scene.project.id,
                        "hazard_report",
                        query,
                        role="viewer",
                        secret="test",
                    )
                    assert page.total == len(expected)
                    seen.extend(row.instance_id for row in page.rows)
                two = table.table_page(
                    session,
                    scene.project.id,
                    "hazard_report",
                    table.TableQuery(sort=sort, descending=descending, limit=3, offset=2),
                    role="viewer",
                    secret="test",
                )
            assert seen == expected, (sort, descending)
            assert [r.instance_id for r in two.rows] == expected[2:5], (sort, descending)
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    url = f"{scene.ui}/forms/hazard_report/submissions"
    for sort in ("device", "submitter"):
        page = http.get(url, params={"sort": sort, "order": "asc"}, timeout=30)
        assert page.status_code == 200
        assert ROW_LINK.findall(page.text) == _expected(scene, sort, False)


def test_the_count_and_pages_are_those_of_the_rows_consent_shows(scene: Scene) -> None:
    # Two survivors consent to share their record, one does not: a partner (viewer) is shown
    # two rows, and the table says two.
    shared = [survivor_assessment(scene, name) for name in ("Somchai", "Noy")]
    kept = survivor_assessment(scene, "Khamla").replace(
        b"<consent_sharing>yes</consent_sharing>", b"<consent_sharing>no</consent_sharing>"
    )
    assert b"<consent_sharing>no</consent_sharing>" in kept
    for xml in (*shared, kept):
        scene.submit(scene.tablets[0], xml)
    url = f"{scene.ui}/forms/survivor_needs_assessment/submissions"
    coordinator = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    every = coordinator.get(url, timeout=30).text
    assert len(ROW_LINK.findall(every)) == 3
    assert ">3 submissions · page 1 of 1<" in every
    partner = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    shown = partner.get(url, timeout=30).text
    assert len(ROW_LINK.findall(shown)) == 2
    assert ">2 submissions · page 1 of 1<" in shown
    with scene.field.factories.session() as session:
        from server.accounts.models import User
        from server.forms import service as forms
        from server.forms.personal import submission_guard
        from server.personal.access import Access

        form = forms.get_form(session, scene.project.id, "survivor_needs_assessment")
        viewer = session.scalars(select(User).where(User.email == scene.people.viewer)).one()
        partner_guard = submission_guard(
            session, form, Access(scene.project.id, partner=True, user_id=viewer.id)
        )
        pages = [
            table.table_page(
                session,
                scene.project.id,
                "survivor_needs_assessment",
                table.TableQuery(limit=1, offset=offset),
                role="viewer",
                secret="test",
                guard=partner_guard,
            )
            for offset in range(3)
        ]
    assert [p.total for p in pages] == [2, 2, 2]
    assert [len(p.rows) for p in pages] == [1, 1, 0]  # page 2 is full, page 3 is past the end
    assert pages[0].rows[0].instance_id != pages[1].rows[0].instance_id
