"""The web UI over plain HTTP: every page renders for the roles that may see it, logging in
sets the cookie as it should, forms without their CSRF token are refused, and the headers keep
inline code and other sites out."""

from __future__ import annotations

import re

import requests

from tests.ui.browserless import csrf, log_in
from tests.ui.conftest import Scene


def test_every_page_renders_for_a_coordinator(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    ui = scene.ui
    pages = [
        f"{scene.server.url}/ui/",
        ui,
        f"{ui}/forms",
        f"{ui}/forms/hazard_report",
        f"{ui}/forms/hazard_report/submissions",
        f"{ui}/forms/hazard_report/submissions/{scene.first_report}",
        f"{ui}/entities",
        f"{ui}/entities/hazard_areas",
        f"{ui}/entities/hazard_areas/map",
        f"{ui}/entities/hazard_areas/{scene.area}",
        f"{ui}/conflicts",
        f"{ui}/reports",
        f"{ui}/exports",
        f"{ui}/devices",
    ]
    for url in pages:
        response = http.get(url, timeout=30)
        assert response.status_code == 200, (url, response.text[:2000])
        assert response.headers["Content-Type"].startswith("text/html")
        assert "<h1>" in response.text, url


def test_login_cookie_is_http_only_and_same_site_lax(scene: Scene) -> None:
    http = requests.Session()
    page = http.get(f"{scene.server.url}/ui/login", timeout=10)
    answer = http.post(
        f"{scene.server.url}/ui/login",
        data={
            "email": scene.people.viewer,
            "password": scene.people.password,
            "csrf_token": csrf(page.text),
        },
        allow_redirects=False,
        timeout=30,
    )
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("fieldsync_ui=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind TLS the flag is set
    assert http.get(f"{scene.ui}/forms", timeout=10).status_code == 200


def test_wrong_password_is_refused_on_the_page(scene: Scene) -> None:
    http = requests.Session()
    page = http.get(f"{scene.server.url}/ui/login", timeout=10)
    answer = http.post(
        f"{scene.server.url}/ui/login",
        data={"email": scene.people.viewer, "password": "wrong", "csrf_token": csrf(page.text)},
        timeout=30,
    )
    assert answer.status_code == 401
    assert "fieldsync_ui=" not in answer.headers.get("Set-Cookie", "")
    assert 'id="login-error"' in answer.text


def test_a_post_without_the_csrf_token_is_refused(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    url = f"{scene.ui}/forms/hazard_report/submissions/{scene.first_report}/review"
    refused = http.post(url, data={"state": "approved"}, timeout=10, allow_redirects=False)
    assert refused.status_code == 403
    assert "ui.csrf_refused" in refused.text
    forged = http.post(
        url, data={"state": "approved", "csrf_token": "x" * 40}, timeout=10, allow_redirects=False
    )
    assert forged.status_code == 403
    page = http.get(f"{scene.ui}/forms/hazard_report/submissions/{scene.first_report}", timeout=10)
    assert 'id="review-state">received<' in page.text  # nothing changed
    accepted = http.post(
        url, data={"state": "approved", "csrf_token": csrf(page.text)}, allow_redirects=False
    )
    assert accepted.status_code == 303


def test_the_login_form_itself_needs_its_token(scene: Scene) -> None:
    answer = requests.post(
        f"{scene.server.url}/ui/login",
        data={"email": scene.people.viewer, "password": scene.people.password},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 403


def test_pages_forbid_inline_code_and_static_files_are_cached(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/entities/hazard_areas/map", timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "<script>" not in page.text and " style=" not in page.text
    assert page.headers["Cache-Control"] == "private, no-cache"
    assets = re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', page.text)
    assert any("leaflet.js" in a for a in assets) and any("htmx.min.js" in a for a in assets)
    for asset in assets:
        response = http.get(f"{scene.server.url}{asset}", timeout=10)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["Cache-Control"]
        assert response.headers.get("Content-Encoding") == "gzip"


def test_a_viewer_cannot_review_or_reach_the_devices(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/forms/hazard_report/submissions/{scene.first_report}")
    assert 'value="approved"' not in page.text
    url = f"{scene.ui}/forms/hazard_report/submissions/{scene.first_report}/review"
    refused = http.post(url, data={"state": "approved", "csrf_token": csrf(page.text)})
    assert refused.status_code == 403
    assert http.get(f"{scene.ui}/devices", timeout=10).status_code == 403


def test_without_a_login_pages_lead_to_the_login_form(scene: Scene) -> None:
    answer = requests.get(f"{scene.ui}/forms", timeout=10, allow_redirects=False)
    assert answer.status_code == 302
    assert "/ui/login?next=" in answer.headers["Location"]


def test_the_language_is_chosen_and_numbers_and_dates_follow_it(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    page = http.get(scene.ui, timeout=10)
    assert '<html lang="en">' in page.text and ">Forms<" in page.text
    chosen = http.post(
        f"{scene.server.url}/ui/language",
        data={
            "lang": "lo",
            "next": f"/ui/projects/{scene.project.id}",
            "csrf_token": csrf(page.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert chosen.status_code == 303
    lao = http.get(scene.ui, timeout=10)
    assert '<html lang="lo">' in lao.text
    assert ">ແບບຟອມ<" in lao.text  # "Forms" from the Lao catalogue
    # The browser's language counts when none was chosen; English where a string is missing.
    fresh = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    khmer = fresh.get(f"{scene.ui}/forms", headers={"Accept-Language": "km-KH,km;q=0.9"})
    assert '<html lang="km">' in khmer.text and ">ទម្រង់<" in khmer.text
    vietnamese = fresh.get(
        f"{scene.ui}/forms/hazard_report", headers={"Accept-Language": "vi"}, timeout=10
    )
    # Dates in Vietnamese are written day first ("1 thg 12, 2026"), not "Dec 1, 2026".
    assert "thg" in vietnamese.text and "Dec " not in vietnamese.text


def test_a_device_gets_its_collect_qr_code_once(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    page = http.get(f"{scene.ui}/devices", timeout=10)
    assert "Team 1 tablet" in page.text
    added = http.post(
        f"{scene.ui}/devices", data={"name": "Team 3 tablet", "csrf_token": csrf(page.text)}
    )
    assert added.status_code == 200
    assert "<svg" in added.text and "QR code for Team 3 tablet" in added.text
    token_url = re.search(r"<code>(http://[^<]+/v1/key/[^<]+)</code>", added.text)
    assert token_url is not None
    form_list = requests.get(
        f"{token_url.group(1)}/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10
    )
    assert form_list.status_code == 200  # the URL the code carries works for Collect
    again = http.get(f"{scene.ui}/devices", timeout=10)
    assert "<svg" not in again.text and token_url.group(1) not in again.text


def test_a_configured_tile_server_is_the_only_other_host_the_policy_allows(
    scene: Scene,
) -> None:
    from server.web import runtime

    rt = runtime(scene.server_app)
    rt.settings = rt.settings.with_overrides(
        ui_tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png"
    )
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/entities/hazard_areas/map", timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tile.example.org;" in policy
    assert "connect-src 'self';" in policy and "script-src 'self';" in policy
    assert 'data-tiles="https://{s}.tile.example.org/{z}/{x}/{y}.png"' in page.text


def test_an_administrator_invites_gives_a_role_and_disables(scene: Scene) -> None:
    admin = log_in(scene.server.url, scene.people.admin, scene.people.password)
    page = admin.get(f"{scene.server.url}/ui/users", timeout=10)
    invited = admin.post(
        f"{scene.server.url}/ui/users",
        data={
            "email": "newcomer@example.org",
            "display_name": "Newcomer",
            "csrf_token": csrf(page.text),
        },
        timeout=30,
    )
    password = re.search(r"First password \(shown once\): (\S+)</p>", invited.text)
    assert password is not None
    ids = re.findall(r'action="/ui/users/(\d+)/roles"', invited.text)
    assert ids
    newcomer_id = ids[-1]
    token = csrf(invited.text)
    granted = admin.post(
        f"{scene.server.url}/ui/users/{newcomer_id}/roles",
        data={"project": str(scene.project.id), "role": "viewer", "csrf_token": token},
        allow_redirects=False,
    )
    assert granted.status_code == 303
    newcomer = log_in(scene.server.url, "newcomer@example.org", password.group(1))
    assert newcomer.get(f"{scene.ui}/forms", timeout=10).status_code == 200
    disabled = admin.post(
        f"{scene.server.url}/ui/users/{newcomer_id}/active",
        data={"active": "0", "csrf_token": token},
        allow_redirects=False,
    )
    assert disabled.status_code == 303
    # Disabling ends the sessions the user had open, in the browser too.
    assert newcomer.get(f"{scene.ui}/forms", timeout=10, allow_redirects=False).status_code == 302
    viewer = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    assert viewer.get(f"{scene.server.url}/ui/users", timeout=10).status_code == 403


def test_the_exports_page_downloads_the_export(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/exports", timeout=10)
    assert f'action="/ui/projects/{scene.project.id}/forms/hazard_report/export.csv"' in page.text
    answer = http.get(f"{scene.ui}/forms/hazard_report/export.csv", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="hazard_report.csv"'
    lines = answer.text.strip().splitlines()
    assert lines[0].startswith("SubmissionDate,") and len(lines) == 1 + 4


def test_reports_download_through_the_reports_renderers_and_donors_see_their_own(
    scene: Scene,
) -> None:
    from server.accounts.models import Role, User
    from server.db import transaction
    from server.donors import members
    from server.donors import service as donors

    factories = scene.field.factories
    donor_user = factories.user(scene.project, Role.VIEWER, email="donor@example.org")
    with transaction(factories.runtime.session_factory) as session:
        ours = donors.create_donor(
            session, scene.project.id, {"name": "Our Fund", "iati_org_ref": "XM-DAC-1"}
        )
        donors.create_donor(
            session, scene.project.id, {"name": "Other Fund", "iati_org_ref": "XM-DAC-2"}
        )
        user = session.get(User, donor_user.id)
        assert user is not None
        members.link_user(session, ours, user)
        ours_id = ours.id
    http = log_in(scene.server.url, scene.people.coordinator, scene.people.password)
    page = http.get(f"{scene.ui}/reports?report=donors&period=2026", timeout=30)
    assert 'id="donor-list"' in page.text
    assert "Our Fund" in page.text and "Other Fund" in page.text  # the coordinator sees both
    csv = http.get(f"{scene.ui}/reports/article7?period=2026&format=csv", timeout=30)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert "# table: form_f.totals" in csv.text
    xlsx = http.get(f"{scene.ui}/reports/3w?period=2026&format=xlsx", timeout=30)
    assert xlsx.content[:2] == b"PK"
    wrong = http.get(f"{scene.ui}/reports?report=article7&period=2026-Q2", timeout=30)
    assert 'id="report-problem"' in wrong.text  # Article 7 is by year: the package says so
    donor = log_in(scene.server.url, "donor@example.org", scene.people.password)
    own = donor.get(f"{scene.ui}/reports?report=donors&period=2026", timeout=30)
    assert "Our Fund" in own.text and "Other Fund" not in own.text
    assert "Outputs by funding agreement" in own.text  # its one donor opens at once
    other = donor.get(f"{scene.ui}/reports/donors/{ours_id + 1}.csv?period=2026", timeout=30)
    assert other.status_code == 404
    mine = donor.get(f"{scene.ui}/reports/donors/{ours_id}.csv?period=2026", timeout=30)
    assert mine.status_code == 200 and mine.text.startswith("donor,iati_org_ref")


def test_suppressed_counts_show_with_the_projects_minimum(scene: Scene) -> None:
    import uuid

    from lxml import etree

    from server.db import transaction
    from server.reports import service as reports

    with transaction(scene.field.factories.runtime.session_factory) as session:
        reports.update_settings(session, scene.project.id, approved_only=False, min_cell_size=3)
    form = scene.field.forms["accident_report"]
    root = etree.Element("data", id="accident_report", version=form.version)
    etree.SubElement(root, "date_of_information").text = "2026-04-03"
    fields = {"organisation": "NRA", "accident_date": "2026-04-01", "admin1": "LA09"}
    for key, value in fields.items():
        etree.SubElement(root, key).text = value
    for _ in range(2):  # two injured men: fewer than 3, so never shown as a number
        casualty = etree.SubElement(root, "casualties")
        item = {"casualty_id": str(uuid.uuid4()), "casualty_group": "civilian"}
        item |= {"casualty_outcome": "injured", "sex": "male", "age_known": "yes", "age": "30"}
        for key, value in (item | {"age_band": "adult"}).items():
            etree.SubElement(casualty, key).text = value
    meta = etree.SubElement(root, "meta")
    etree.SubElement(meta, "instanceID").text = f"uuid:{uuid.uuid4()}"
    scene.submit(scene.tablets[0], etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/reports?report=article7&period=2026", timeout=30)
    assert page.status_code == 200
    table = page.text[page.text.index("Form H: casualties in the year") :]
    table = table[: table.index("</table>")]
    assert "&lt;3" in table and "&lt;5" not in table
    assert "Counts of people below 3 are shown as &lt;3." in page.text
    csv = http.get(f"{scene.ui}/reports/article7?period=2026&format=csv", timeout=30)
    assert "<3" in csv.text  # the download suppresses the same cells


def test_every_report_renders_with_its_filters(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    for name, period in (
        ("article7", "2026"),
        ("monitor", "2026"),
        ("3w", "2026-Q4"),
        ("3w", "2026-11"),
        ("3w", "2026-01-01/2026-11-30"),
        ("strategy", "2026"),
        ("donors", "2026"),
    ):
        page = http.get(
            f"{scene.ui}/reports", params={"report": name, "period": period, "area": "LA09"}
        )
        assert page.status_code == 200, (name, page.text[:2000])
        assert 'id="report-problem"' not in page.text, (name, period)
        assert 'id="reports-unavailable"' not in page.text
    printed = http.get(f"{scene.ui}/reports?report=monitor&period=2026&print=1", timeout=30)
    assert '<body class="print">' in printed.text
    html = http.get(f"{scene.ui}/reports/monitor?period=2026&format=html", timeout=30)
    assert html.headers["Content-Type"].startswith("text/html")
    assert "break-before:page" in html.text  # the reports' printable HTML


def test_a_data_collector_reads_no_report(scene: Scene) -> None:
    from server.accounts.models import Role

    scene.field.factories.user(scene.project, Role.DATA_COLLECTOR, email="team@example.org")
    http = log_in(scene.server.url, "team@example.org", scene.people.password)
    assert http.get(f"{scene.ui}/reports", timeout=30).status_code == 403
    download = http.get(f"{scene.ui}/reports/article7?period=2026&format=csv", timeout=30)
    assert download.status_code == 403
    viewer = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    assert viewer.get(f"{scene.ui}/reports", timeout=30).status_code == 200


def test_a_donors_programme_officer_without_a_role_opens_only_their_donors_report(
    scene: Scene,
) -> None:
    from server.accounts.models import User
    from server.db import transaction
    from server.donors import members
    from server.donors import service as donors

    factories = scene.field.factories
    officer = factories.user(email="officer@example.org")  # no role in any project
    factories.user(email="nobody@example.org")
    with transaction(factories.runtime.session_factory) as session:
        ours = donors.create_donor(
            session, scene.project.id, {"name": "Our Fund", "iati_org_ref": "XM-DAC-1"}
        )
        other = donors.create_donor(
            session, scene.project.id, {"name": "Other Fund", "iati_org_ref": "XM-DAC-2"}
        )
        user = session.get(User, officer.id)
        assert user is not None
        members.link_user(session, ours, user)
        ours_id, other_id = ours.id, other.id
    http = log_in(scene.server.url, "officer@example.org", scene.people.password)
    # Their one project's home is its donor report, and the menu offers nothing they cannot open.
    landing = http.get(f"{scene.server.url}/ui/", timeout=30)
    assert landing.status_code == 200 and landing.url.endswith(f"{scene.ui}/reports")
    menu = landing.text.split('aria-label="Main"')[1].split("</nav>")[0]
    assert "/reports" in menu
    assert "/forms" not in menu and "/exports" not in menu and "/conflicts" not in menu
    page = http.get(f"{scene.ui}/reports", timeout=30)
    assert page.status_code == 200, page.text[:2000]
    assert "Our Fund" in page.text and "Other Fund" not in page.text
    assert "Outputs by funding agreement" in page.text  # their one donor opens at once
    options = re.findall(r'<option value="([^"]*)"', page.text.split('id="r-report"')[1])
    assert options[0] == "donors" and "article7" not in options and "3w" not in options
    asked = http.get(f"{scene.ui}/reports?report=article7&period=2026", timeout=30)
    assert asked.status_code == 200 and "Form F" not in asked.text  # still the donor report
    assert "Our Fund" in asked.text
    assert http.get(f"{scene.ui}/reports/article7?period=2026&format=csv").status_code == 404
    mine = http.get(f"{scene.ui}/reports/donors/{ours_id}.csv?period=2026", timeout=30)
    assert mine.status_code == 200 and mine.text.startswith("donor,iati_org_ref")
    theirs = http.get(f"{scene.ui}/reports/donors/{other_id}.csv?period=2026", timeout=30)
    assert theirs.status_code == 404
    stranger = log_in(scene.server.url, "nobody@example.org", scene.people.password)
    assert stranger.get(f"{scene.ui}/reports", timeout=30).status_code == 404
