"""The web UI in headless Chromium, as a coordinator, a data verifier and a viewer use it: log
in, publish a form and read the compiler's error at its row, filter the submissions and open one
with its photo and map, approve it and watch the project's figure change, draw the hazard-area
map without any request leaving the server, resolve a conflict, keep survivor names from a
viewer, refuse a post without its CSRF token; axe-core checks every page it visits."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
import requests
from lxml import etree
from openpyxl import Workbook
from sqlalchemy import select

from server.accounts import service as accounts
from server.accounts.models import Role, User
from server.audit.models import AuditEntry
from server.db import transaction
from server.forms.models import Form, FormVersion
from server.personal.access import READ_ACTION
from server.projects.models import Project
from tests.entities.builders import Filled
from tests.entities.test_entity_service import clearance
from tests.personal.conftest import FIXTURES
from tests.ui.browser import Browser, open_browser
from tests.ui.conftest import Scene

pytestmark = pytest.mark.e2e
CASE_VISIT = FIXTURES / "case_visit.xml"


@pytest.fixture
def browser(chromium: Any, scene: Scene) -> Any:
    opened = open_browser(chromium, scene.server.url)
    yield opened
    opened.page.context.close()


def accessible(browser: Browser) -> None:
    assert browser.accessibility_violations() == []
    assert browser.console == []


def broken_xlsform() -> bytes:
    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "team", "Team"])
    survey.append(["integr", "devices_found", "Devices found"])  # row 3: not a question type
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["broken_form", "1"])
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def test_log_in_and_see_the_project(browser: Browser, scene: Scene) -> None:
    browser.log_in(scene.people.coordinator, scene.people.password)
    page = browser.page
    assert page.url.endswith(f"/ui/projects/{scene.project.id}")  # the one project opens
    assert page.locator("h1").inner_text() == scene.project.name
    assert page.locator("#fig-conflicts").inner_text() == "1"
    accessible(browser)
    browser.screenshot("project-home")
    browser.log_out()
    assert "/ui/login" in page.url


def test_publish_a_form_and_see_the_compile_error_at_its_row(
    browser: Browser, scene: Scene, tmp_path: Any
) -> None:
    browser.log_in(scene.people.admin, scene.people.password)
    browser.goto(f"/ui/projects/{scene.project.id}/forms")
    upload = tmp_path / "broken_form.xlsx"
    upload.write_bytes(broken_xlsform())
    page = browser.page
    page.get_by_label("XLSForm (.xlsx) or XForm (.xml)").set_input_files(str(upload))
    page.get_by_role("button", name="Publish").click()
    page.wait_for_load_state("networkidle")
    errors = page.locator("#compile-errors tr.compile-error")
    assert errors.count() >= 1
    first = errors.first
    assert first.locator("td").nth(0).inner_text() == "survey"
    assert first.locator("td.row-number").inner_text() == "3"
    assert "integr" in first.inner_text()
    accessible(browser)
    browser.screenshot("forms-compile-error")


def test_filter_the_submissions_and_open_one_with_its_photo_and_map(
    browser: Browser, scene: Scene
) -> None:
    browser.log_in(scene.people.coordinator, scene.people.password)
    browser.goto(f"/ui/projects/{scene.project.id}/forms/hazard_report/submissions")
    page = browser.page
    assert page.locator("#submissions tbody tr").count() == 4
    page.get_by_label("Submitter").select_option(label="Team 2 tablet")
    page.get_by_role("button", name="Filter").click()
    # htmx swaps the table in and puts the filter in the address (for a link or a reload).
    page.wait_for_url(re.compile(r"submitter=\d+"))
    assert page.locator("#submissions tbody tr").count() == 2
    page.get_by_label("Submitter").select_option(label="Team 1 tablet")
    page.get_by_label("Admin area").select_option(value="LA09")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"area=LA09"))
    rows = page.locator("#submissions tbody tr")
    assert rows.count() == 1
    accessible(browser)
    browser.screenshot("submissions-table")
    rows.first.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    photo = page.locator("img.photo")
    assert photo.count() == 1
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 2
    assert page.locator("#map").get_attribute("data-features") == "2"  # benchmark, perimeter
    assert page.locator("#map .leaflet-interactive").count() == 2
    assert page.locator("#entity-changes tbody tr").first.inner_text().startswith("HA-0145")
    accessible(browser)
    browser.screenshot("submission-page")


def test_approving_a_report_changes_the_projects_figures(browser: Browser, scene: Scene) -> None:
    browser.log_in(scene.people.coordinator, scene.people.password)
    home = f"/ui/projects/{scene.project.id}"
    browser.goto(home)
    page = browser.page
    awaiting = int(page.locator("#fig-awaiting").inner_text())
    assert page.locator("#fig-approved").inner_text() == "0"
    browser.goto(f"{home}/forms/hazard_report/submissions/{scene.first_report}")
    page.get_by_label("Comment").fill("benchmark photo checked")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#review-state").inner_text() == "approved"
    browser.goto(home)
    assert page.locator("#fig-approved").inner_text() == "1"
    assert int(page.locator("#fig-awaiting").inner_text()) == awaiting - 1


def test_the_hazard_area_map_sends_no_request_off_the_server(
    browser: Browser, scene: Scene
) -> None:
    from server.gazetteer import service as gazetteer
    from server.projects.models import Project
    from tests.gazetteer.test_boundaries import FIXTURE

    # Two provinces' (synthetic) outlines replace the bundled ones: the map's base layer.
    with scene.field.factories.session() as session:
        project = session.get(Project, scene.project.id)
        assert project is not None
        gazetteer.import_boundaries(session, project, FIXTURE.name, FIXTURE.read_bytes())
        session.commit()
    browser.log_in(scene.people.viewer, scene.people.password)
    browser.goto(f"/ui/projects/{scene.project.id}/entities/hazard_areas/map")
    page = browser.page
    page.wait_for_selector("#map[data-features]")
    page.wait_for_selector("#map[data-boundaries-drawn]")
    assert page.locator("#map").get_attribute("data-features") == "1"  # the one with a perimeter
    assert page.locator("#map").get_attribute("data-boundaries-drawn") == "2"
    assert page.locator("#map path.gazetteer-boundary").count() == 2  # a MultiPolygon: 1 path
    assert page.locator("#map .area-label").all_inner_texts() == ["Xiengkhuang", "Savannakhet"]
    assert page.locator("#no-boundaries").count() == 0
    assert page.locator("#map path.leaflet-interactive").count() == 1  # boundaries take no click
    assert page.locator("#legend li").all_inner_texts() == ["suspected"]
    assert browser.foreign == []
    accessible(browser)
    browser.screenshot("hazard-area-map")
    page.locator("#map path.leaflet-interactive").first.click()
    page.locator(".leaflet-popup-content a").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/entities/hazard_areas/{scene.area}")
    assert browser.foreign == []


def test_resolve_a_conflict_in_the_queue_and_see_the_new_version(
    browser: Browser, scene: Scene
) -> None:
    browser.log_in(scene.people.coordinator, scene.people.password)
    browser.goto(f"/ui/projects/{scene.project.id}/conflicts")
    page = browser.page
    card = page.locator("article.conflict")
    assert card.count() == 1
    assert sorted(card.locator(".incoming-value").all_inner_texts()) == ["low", "medium"]
    accessible(browser)
    browser.screenshot("conflict-queue")
    version_before = scene.field.entity(scene.area).current_version
    card.get_by_label("Another value").first.check()
    card.locator("input[name=value]").fill("high")
    card.get_by_label("Reason (required)").fill("school next to it: high")
    card.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#resolved").is_visible()
    assert int(page.locator("#entity-version").inner_text()) == version_before + 1
    assert "high" in page.locator("#current-values").inner_text()
    first_row = page.locator("#versions tbody tr").first
    assert "resolution" in first_row.inner_text() and "school next to it" in first_row.inner_text()
    browser.goto(f"/ui/projects/{scene.project.id}/conflicts")
    assert page.locator("article.conflict").count() == 0
    accessible(browser)


def caseworker(scene: Scene) -> str:
    """A coordinator whose role carries the survivor caseworker flag (server.personal)."""
    factories = scene.field.factories
    user = factories.user(scene.project, Role.COORDINATOR, email="caseworker@example.org")
    with transaction(factories.runtime.session_factory) as session:
        found = session.get(User, user.id)
        project = session.get(Project, scene.project.id)
        assert found is not None and project is not None
        accounts.grant_role(session, found, project, Role.COORDINATOR, personal_data=True)
    return user.email


def personal_reads(scene: Scene, email: str) -> list[AuditEntry]:
    with scene.field.factories.session() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .join(User, User.id == AuditEntry.actor_user_id)
                .where(AuditEntry.action == READ_ACTION, User.email == email)
            )
        )


def test_only_a_caseworker_sees_survivor_names(browser: Browser, scene: Scene) -> None:
    from tests.ui.conftest import survivor_assessment

    name = "Somchai Phommavong"
    scene.submit(scene.tablets[0], survivor_assessment(scene, name))
    # A visit whose phone number (a pii_ field) is saved to the record: a personal property.
    factories = scene.field.factories
    factories.publish(scene.project, CASE_VISIT)
    with factories.session() as session:
        version = session.scalars(
            select(FormVersion)
            .join(Form, Form.id == FormVersion.form_id)
            .where(Form.project_id == scene.project.id, Form.xml_form_id == "case_visit")
        ).one()
    case = str(uuid.uuid4())
    phone = "+856 20 5555 1234"
    visit = Filled(
        form_id="case_visit",
        form=version,
        entity_id=case,
        create=True,
        label="Ban Nakham",
        values={"village": "Ban Nakham", "phone": phone},
    )
    scene.submit(scene.tablets[0], visit.xml())
    table = f"/ui/projects/{scene.project.id}/forms/survivor_needs_assessment/submissions"
    record = f"/ui/projects/{scene.project.id}/entities/cases/{case}"
    page = browser.page
    # A partner (viewer) and a coordinator without the flag: the record, never the name.
    for email in (scene.people.viewer, scene.people.coordinator):
        browser.log_in(email, scene.people.password)
        browser.goto(table)
        assert page.locator("#submissions tbody tr").count() == 1
        assert name not in page.content()
        assert page.locator(".personal-unavailable").count() == 0  # the rules are wired in
        page.locator("#submissions tbody tr a").first.click()
        page.wait_for_load_state("networkidle")
        assert name not in page.content()
        assert page.locator(".hidden-personal").count() >= 1
        browser.goto(record)
        assert "Ban Nakham" in page.inner_text("#current-values")
        assert phone not in page.content()
        assert page.locator("#current-values .hidden-personal").count() == 1
        browser.log_out()
        assert personal_reads(scene, email) == []
    # A survivor caseworker follows the survivor up: the name, marked as personal, audited.
    email = caseworker(scene)
    browser.log_in(email, scene.people.password)
    browser.goto(table)
    assert name in page.inner_text("#submissions")
    assert page.locator("th .personal").count() >= 1  # the column is marked as personal
    page.locator("#submissions tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    field = page.locator("dd", has_text=name)
    assert field.count() == 1 and field.locator(".personal").count() == 1
    assert page.locator(".hidden-personal").count() == 0
    browser.goto(record)
    value = page.locator("#current-values dd", has_text=phone)
    assert value.count() == 1 and value.locator(".personal").count() == 1
    accessible(browser)
    targets = {e.target_type for e in personal_reads(scene, email)}
    assert targets == {"submission", "entity"}


def test_a_post_without_the_csrf_token_is_refused(browser: Browser, scene: Scene) -> None:
    browser.log_in(scene.people.coordinator, scene.people.password)
    page = browser.page
    url = (
        f"{scene.server.url}/ui/projects/{scene.project.id}/forms/hazard_report/submissions/"
        f"{scene.first_report}/review"
    )
    refused = page.request.post(url, form={"state": "approved"}, max_redirects=0)
    assert refused.status == 403
    assert "ui.csrf_refused" in refused.text()
    # Not a cookie-less fluke: the same browser's session is still good for the page.
    assert requests.get(url, timeout=10).status_code in (302, 405)
    browser.goto(
        f"/ui/projects/{scene.project.id}/forms/hazard_report/submissions/{scene.first_report}"
    )
    assert page.locator("#review-state").inner_text() == "received"


def clearance_by(scene: Scene, organisation: str, cleared: int, date: str) -> str:
    """A clearance report on the scene's hazard area by ``organisation`` (its instanceID)."""
    filled = clearance(scene.field, scene.area, 1, date=date, remaining_area_m2="9000")
    root = etree.fromstring(filled.xml())
    meta = root.find("meta")
    assert meta is not None
    sent = {"organisation": organisation, "task_id": "T-1", "hazard_area": scene.area}
    sent |= {"method": "clearance", "area_cleared_m2": str(cleared), "area_cancelled_m2": "0"}
    for key, value in sent.items():
        node = etree.Element(key)
        node.text = value
        meta.addprevious(node)
    scene.submit(scene.tablets[0], etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return filled.instance_id


def figure(browser: Browser, caption: str, column: str, row: int = 0) -> str:
    """The text of one cell of the report table with ``caption``."""
    text = browser.page.evaluate(
        """([caption, column, row]) => {
            const table = [...document.querySelectorAll('table.report-table')]
                .find(t => t.caption && t.caption.innerText.trim() === caption);
            if (!table) return null;
            const heads = [...table.tHead.rows[0].cells].map(c => c.innerText.trim());
            const body = table.tBodies[0].rows[row];
            return body ? body.cells[heads.indexOf(column)].innerText.trim() : null;
        }""",
        [caption, column, row],
    )
    assert text is not None, f"no table {caption!r} with a row {row} and column {column!r}"
    return str(text)


def approve(browser: Browser, scene: Scene, form_id: str, instance_id: str) -> None:
    browser.goto(f"/ui/projects/{scene.project.id}/forms/{form_id}/submissions/{instance_id}")
    browser.page.get_by_label("Comment").fill("cleared area checked on site")
    browser.page.get_by_role("button", name="Approve").click()
    browser.page.wait_for_load_state("networkidle")
    assert browser.page.locator("#review-state").inner_text() == "approved"


def test_approve_a_report_and_see_a_report_figure_change(browser: Browser, scene: Scene) -> None:
    mag = clearance_by(scene, "MAG", 3000, "2026-11-12")
    halo = clearance_by(scene, "HALO", 1000, "2026-11-14")
    browser.log_in(scene.people.coordinator, scene.people.password)
    reports = f"/ui/projects/{scene.project.id}/reports?period=2026"
    totals = "Form F: totals"
    browser.goto(f"{reports}&report=article7")
    before = float(figure(browser, totals, "cleared_m2").replace(",", ""))
    approve(browser, scene, "clearance_report", mag)
    browser.goto(f"{reports}&report=article7")
    assert float(figure(browser, totals, "cleared_m2").replace(",", "")) == before + 3000
    assert browser.page.locator("#report-downloads a").count() == 3
    accessible(browser)
    browser.screenshot("reports-article7")
    # 3W/4W: only MAG's approved work so far, no overlap.
    browser.goto(f"{reports}&report=3w")
    assert browser.page.locator("tr.overlap").count() == 0
    approve(browser, scene, "clearance_report", halo)
    browser.goto(f"{reports}&report=3w&area=LA09")
    page = browser.page
    highlighted = page.locator("table.report-table tbody tr.overlap")
    operators = {row.locator("td").nth(1).inner_text() for row in highlighted.all()[:2]}
    assert operators == {"HALO", "MAG"}  # both operators' rows in the matrix
    assert page.locator("tr.overlap .flag").count() == highlighted.count() == 3  # + the overlap
    overlap = figure(browser, "Overlaps", "operators")
    assert overlap == "HALO MAG"
    assert figure(browser, "Who does what where: 2026", "cleared_m2") in ("1,000", "3,000")
    accessible(browser)
    browser.screenshot("reports-3w-overlap")
    # The print view keeps the figures and drops the filters.
    page.get_by_role("button", name="Print view").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("body.print").count() == 1
    assert not page.locator("form.filters").is_visible()
    assert page.locator("tr.overlap").count() == 3
