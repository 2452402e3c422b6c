"""The web UI's Field hub page on a real hub: `fieldsync hub` in its own process against the
centre served by this test process, a tablet posting to the hub over OpenRosa, and a
coordinator reading the hub's pages over HTTP before and after `fieldsync sync`."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html
from sqlalchemy import select

from server import hub as server_hub
from server.accounts.models import Role
from server.db import transaction
from server.forms.models import Form, FormState
from server.forms.service import set_state
from server.hub import CentreExchange, LaptopState, QueuedReport
from server.submissions.records import ReceivedVersion
from server.ui.hub import FormWaiting, per_form, waiting_reports
from sync_client.errors import StoreError, UsageError
from tests.conftest import LiveServer
from tests.entities.conftest import Field
from tests.entities.test_entity_service import clearance, new_area
from tests.factories import DEFAULT_PASSWORD
from tests.hub.test_hub_e2e import Hub, Tablet, _plain, fieldsync, laptop
from tests.ui.browser import open_browser
from tests.ui.browserless import log_in

__all__ = ["laptop"]

EMAIL = "camp.coordinator@example.org"


def hub_account(home: Path, email: str = EMAIL, caseworker: bool = False) -> int:
    """A login on the hub itself (`fieldsync hub add-user`), a coordinator in the hub's
    project; returns the project's id on the hub."""
    added = fieldsync(
        home,
        "hub",
        "add-user",
        email,
        *(["--caseworker"] if caseworker else []),
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    found = re.search(r"project (\d+)\)", added.stdout)
    assert found, added.stdout
    return int(found.group(1))


def table_rows(page: str, table_id: str) -> list[list[str]]:
    tree = lxml_html.fromstring(page)
    tables = tree.xpath(f'//table[@id="{table_id}"]')
    if not tables:
        return []
    return [
        [" ".join(cell.text_content().split()) for cell in row.xpath("./td")]
        for row in tables[0].xpath("./tbody/tr")
    ]


def text_of(page: str, element_id: str) -> str:
    found = lxml_html.fromstring(page).xpath(f'//*[@id="{element_id}"]')
    assert found, f"no element {element_id!r} on the page"
    return " ".join(found[0].text_content().split())


def test_the_hub_page_shows_what_waits_and_what_is_provisional_until_a_sync(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    known = str(uuid.uuid4())
    field.receive(new_area(field, known))
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    tablet = laptop.add_device("team 1 tablet")
    project_id = hub_account(laptop.home)
    coordinator = log_in(laptop.url, EMAIL, DEFAULT_PASSWORD)
    hub_page = f"{laptop.url}/ui/projects/{project_id}/hub"

    before = coordinator.get(hub_page, timeout=30)
    assert before.status_code == 200, before.text[:2000]
    assert text_of(before.text, "nothing-waiting")
    assert text_of(before.text, "no-provisional")
    # Only the pull made before the hub started, nothing pushed yet.
    assert "finished. Last push: never" in text_of(before.text, "sync-outcome")
    assert text_of(before.text, "last-sync") == "never"

    update = clearance(
        field, known, 1, status="in_clearance", cleared_area_m2="2000", remaining_area_m2="10000"
    )
    session = _plain(field, "eore_session")
    assert tablet.submit(update) == 201
    assert tablet.submit(session) == 201

    waiting = coordinator.get(hub_page, timeout=30)
    assert waiting.status_code == 200
    reports = {row[0]: row for row in table_rows(waiting.text, "waiting-reports")}
    assert set(reports) == {update.instance_id, session.instance_id}
    assert all("on the hub" in row[3] for row in reports.values())
    assert reports[session.instance_id][1] == "eore_session"
    per_form = {row[0]: row[1] for row in table_rows(waiting.text, "waiting-forms")}
    assert per_form == {"clearance_report": "1", "eore_session": "1"}
    assert text_of(waiting.text, "fig-waiting") == "2"
    # The outbox lists ids, never a form's answers.
    assert "10000" not in text_of(waiting.text, "waiting")
    changes = table_rows(waiting.text, "provisional-changes")
    assert len(changes) == 1
    record, list_name, _version, changed, report, _when = changes[0]
    assert list_name == "hazard_areas"
    assert "cleared_area_m2 = 2000" in changed
    assert report == update.instance_id
    assert record != known, "a hazard area is named by its label"
    received = {(row[0], row[1]): row[2] for row in table_rows(waiting.text, "received-table")}
    assert received == {
        ("team 1 tablet", "clearance_report"): "1",
        ("team 1 tablet", "eore_session"): "1",
    }
    assert "team 1 tablet" in text_of(waiting.text, "hub-devices")

    # The home page sums it up and links to the page.
    home = coordinator.get(f"{laptop.url}/ui/projects/{project_id}", timeout=30)
    assert home.status_code == 200
    assert text_of(home.text, "hub-waiting") == "2"
    assert text_of(home.text, "hub-provisional") == "1"
    assert 'id="nav-hub"' in home.text

    synced = fieldsync(laptop.home, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr

    after = coordinator.get(hub_page, timeout=30)
    assert after.status_code == 200
    assert table_rows(after.text, "waiting-reports") == []
    assert text_of(after.text, "nothing-waiting")
    assert text_of(after.text, "fig-waiting") == "0"
    assert table_rows(after.text, "provisional-changes") == []
    assert text_of(after.text, "no-provisional")
    assert "finished" in text_of(after.text, "sync-outcome")
    assert text_of(after.text, "last-sync") != "never"
    home = coordinator.get(f"{laptop.url}/ui/projects/{project_id}", timeout=30)
    assert text_of(home.text, "hub-waiting") == "0"
    assert text_of(home.text, "hub-provisional") == "0"

    # A form closed at the centre meanwhile: the hub still takes it, the centre refuses it, and
    # the page lists the refusal with the centre's reason instead of as waiting.
    with transaction(field.factories.runtime.session_factory) as centre:
        form = centre.scalars(
            select(Form).where(
                Form.project_id == field.project.id, Form.xml_form_id == "eore_session"
            )
        ).one()
        set_state(centre, form, FormState.CLOSED, None)
    late = _plain(field, "eore_session")
    assert tablet.submit(late) == 201
    refused_sync = fieldsync(laptop.home, "sync")
    assert refused_sync.returncode != 0
    refused = coordinator.get(hub_page, timeout=30)
    rows = table_rows(refused.text, "refused-items")
    assert len(rows) == 1
    assert rows[0][1] == late.instance_id
    assert rows[0][3] == "rejected"
    assert "form.closed" in rows[0][4]
    assert table_rows(refused.text, "waiting-reports") == []
    assert text_of(refused.text, "fig-refused") == "1"


def test_a_sync_from_the_command_line_that_fails_is_shown_with_its_reason(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    project_id = hub_account(laptop.home)
    coordinator = log_in(laptop.url, EMAIL, DEFAULT_PASSWORD)
    hub_page = f"{laptop.url}/ui/projects/{project_id}/hub"
    assert "finished" in text_of(coordinator.get(hub_page, timeout=30).text, "sync-outcome")

    live_server.stop()  # the link to the centre is down
    failed = fieldsync(laptop.home, "sync", "--max-retries", "0", "--connect-timeout", "2")
    assert failed.returncode != 0
    reason = failed.stderr.strip().splitlines()[-1]

    outcome = text_of(coordinator.get(hub_page, timeout=30).text, "sync-outcome")
    assert "failed" in outcome, outcome
    # The page gives the command's own one-line reason.
    assert reason.removeprefix("fieldsync: ")[:40] in outcome, (reason, outcome)


def test_a_server_that_is_not_a_hub_has_no_hub_page(field: Field, live_server: LiveServer) -> None:
    coordinator = field.factories.user(field.project, Role.COORDINATOR)
    http = log_in(live_server.url, coordinator.email, DEFAULT_PASSWORD)
    home = http.get(f"{live_server.url}/ui/projects/{field.project.id}", timeout=30)
    assert home.status_code == 200
    assert 'id="nav-hub"' not in home.text and 'id="hub-summary"' not in home.text
    page = http.get(f"{live_server.url}/ui/projects/{field.project.id}/hub", timeout=30)
    assert page.status_code == 404
    assert re.search(r"not a field hub", page.text)


def test_a_survivors_name_never_reaches_the_hub_page(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    """The name stays in the submission (the survivors list keeps a pseudonymous code and the
    village); the page lists the report by id and the record by that code, for every role."""
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    added = fieldsync(
        laptop.home,
        "hub",
        "add-device",
        "VA tablet",
        "--url",
        laptop.url,
        "--form",
        "survivor_needs_assessment",
    )
    assert added.returncode == 0, added.stderr
    va = Tablet(added.stdout.strip().splitlines()[-1])
    project_id = hub_account(laptop.home)
    hub_account(laptop.home, "caseworker@example.org", caseworker=True)
    person = str(uuid.uuid4())
    assessment = field.fill(
        "survivor_needs_assessment",
        entity_id=person,
        create=True,
        label="SV-0301 Pek, Xiengkhuang",
        values={
            "survivor_code": "SV-0301",
            "consent_followup": "yes",
            "consent_sharing": "yes",
            "sex": "female",
            "demographics/pii_full_name": "Khamla Vongsa",
            "demographics/pii_phone": "+856 20 5555 1234",
        },
    )
    assert va.submit(assessment) == 201
    hub_page = f"{laptop.url}/ui/projects/{project_id}/hub"
    for email in (EMAIL, "caseworker@example.org"):
        http = log_in(laptop.url, email, DEFAULT_PASSWORD)
        for url in (hub_page, f"{laptop.url}/ui/projects/{project_id}"):
            answer = http.get(url, timeout=30)
            assert answer.status_code == 200, (email, url)
            assert "Khamla" not in answer.text and "5555 1234" not in answer.text, (email, url)
        page = http.get(hub_page, timeout=30).text
        waiting = table_rows(page, "waiting-reports")
        assert [(row[0], row[1]) for row in waiting] == [
            (assessment.instance_id, "survivor_needs_assessment")
        ]
        changes = table_rows(page, "provisional-changes")
        assert [(row[1], row[4]) for row in changes] == [("survivors", assessment.instance_id)]
        assert "survivor_code = SV-0301" in changes[0][3]


def test_add_user_refuses_a_short_password_and_a_taken_email_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "laptop"
    short = fieldsync(home, "hub", "add-user", EMAIL, stdin="short\n")
    assert short.returncode == UsageError.exit_code
    assert short.stderr.count("\n") == 1 and "password" in short.stderr, short.stderr
    assert hub_account(home) > 0
    again = fieldsync(home, "hub", "add-user", EMAIL, stdin=DEFAULT_PASSWORD + "\n")
    assert again.returncode == UsageError.exit_code
    assert again.stderr.count("\n") == 1 and EMAIL in again.stderr, again.stderr


@pytest.mark.e2e
def test_the_hub_page_in_a_browser(
    chromium: Any, field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    known = str(uuid.uuid4())
    field.receive(new_area(field, known))
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    team1, team2 = laptop.add_device("Team 1 tablet"), laptop.add_device("Team 2 tablet")
    project_id = hub_account(laptop.home)
    update = clearance(
        field, known, 1, status="in_clearance", cleared_area_m2="2000", remaining_area_m2="10000"
    )
    assert team1.submit(update) == 201
    assert team2.submit(new_area(field, str(uuid.uuid4()), ha_code="HA-0311")) == 201
    assert team2.submit(_plain(field, "eore_session")) == 201

    browser = open_browser(chromium, laptop.url)
    try:
        browser.log_in(EMAIL, DEFAULT_PASSWORD)
        page = browser.page
        assert page.url.endswith(f"/ui/projects/{project_id}")
        assert page.locator("#hub-waiting").inner_text() == "3"
        page.locator("#nav-hub").click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(f"/ui/projects/{project_id}/hub")
        assert page.locator("h1").inner_text() == "Field hub"
        assert page.locator("#waiting-reports tbody tr").count() == 3
        assert page.locator("#provisional-changes tbody tr").count() == 2
        assert browser.accessibility_violations() == []
        assert browser.console == [] and browser.foreign == []
        browser.screenshot("field-hub")
    finally:
        browser.page.context.close()


def test_the_last_exchanges_outcome() -> None:
    at = [datetime(2026, 11, 20, 8, minute, tzinfo=UTC) for minute in range(4)]
    assert CentreExchange().outcome == "never"
    assert CentreExchange(last_pull=at[0]).outcome == "ok"
    # A push or sync started and nothing finished after it: the centre was out of reach.
    assert CentreExchange(last_pull=at[0], last_attempt=at[1]).outcome == "unfinished"
    # Started and finished within the same second.
    assert CentreExchange(last_attempt=at[1], last_done=at[1]).outcome == "ok"
    assert CentreExchange(last_done=at[1], failed_at=at[2]).outcome == "failed"
    assert CentreExchange(last_sync=at[3], failed_at=at[2]).outcome == "ok"


def test_what_waits_is_the_outbox_and_what_the_hub_received_since_the_last_collect() -> None:
    at = [datetime(2026, 11, 20, 8, minute, tzinfo=UTC) for minute in range(4)]
    laptop = LaptopState(
        centre_url="",
        collected_upto=7,
        queued=(
            QueuedReport("uuid:b", "hazard_report", at[2], at[3], 2, "the centre is unreachable"),
            QueuedReport("uuid:a", "eore_session", None, at[1], 0, None),
        ),
    )
    on_hub = [
        ReceivedVersion(8, "uuid:c", "hazard_report", at[0]),
        ReceivedVersion(9, "uuid:b", "hazard_report", at[2]),  # an edit of a queued report
    ]
    waiting = waiting_reports(laptop, on_hub)
    assert [(w.instance_id, w.where) for w in waiting] == [
        ("uuid:c", "hub"),
        ("uuid:a", "outbox"),
        ("uuid:b", "outbox"),
    ]
    assert per_form(waiting) == [
        FormWaiting("eore_session", 1, at[1]),
        FormWaiting("hazard_report", 2, at[0]),
    ]
    assert [w.instance_id for w in waiting_reports(None, on_hub)] == ["uuid:c", "uuid:b"]


def test_a_laptop_store_that_cannot_be_read_leaves_the_rest_of_the_page(tmp_path: Path) -> None:
    from server import create_app

    runtime = server_hub.open_runtime(tmp_path / "hub")
    with server_hub.writing(runtime) as session:
        project_id = server_hub.add_account(session, EMAIL, DEFAULT_PASSWORD).project_id
    settings = runtime.settings
    server_hub.close_runtime(runtime)
    apps = {"without": create_app(settings), "broken": create_app(settings)}

    def broken() -> LaptopState:
        raise StoreError("the local store is locked by another fieldsync")

    server_hub.install_laptop_state(apps["broken"], broken)
    assert server_hub.installed_laptop_state(apps["broken"]) is broken
    assert server_hub.installed_laptop_state(apps["without"]) is None
    for kind, expected in (("without", "not available"), ("broken", "could not be read")):
        server = LiveServer(apps[kind]).start()
        try:
            http = log_in(server.url, EMAIL, DEFAULT_PASSWORD)
            answer = http.get(f"{server.url}/ui/projects/{project_id}/hub", timeout=30)
            assert answer.status_code == 200, answer.text[:2000]
            assert expected in text_of(answer.text, "laptop-problem")
            assert text_of(answer.text, "nothing-waiting")
            assert "The hub's devices" in answer.text
        finally:
            server.stop()
