"""@requires(Role.X): one rule for the JSON API, OpenRosa and the sync API, driven over HTTP."""

from __future__ import annotations

import base64

from flask.testing import FlaskClient

from server.accounts.models import Role
from tests.factories import DEFAULT_PASSWORD, Factories

OPENROSA = {"X-OpenRosa-Version": "1.0"}


def test_site_administration_is_required_with_the_views_own_explanation(
    client: FlaskClient, factories: Factories
) -> None:
    project = factories.project()
    admin = factories.logged_in(project, Role.ADMINISTRATOR)  # of a project, not of the site
    body = {"email": "new@example.org", "password": "a long enough password"}
    refused = client.post("/api/v1/users", json=body, headers=admin.headers)
    assert refused.status_code == 403
    assert refused.json is not None
    assert (refused.json["code"], refused.json["detail"]) == (
        "auth.forbidden",
        "only site administrators create users",
    )
    site_admin = factories.login(factories.user(site_admin=True))
    assert client.post("/api/v1/users", json=body, headers=site_admin.headers).status_code == 201
    assert client.post("/api/v1/users", json=body).status_code == 401


def test_a_project_role_is_checked_in_the_routes_project(
    client: FlaskClient, factories: Factories
) -> None:
    mine, other = factories.project("mine"), factories.project("other")
    coordinator = factories.logged_in(mine, Role.COORDINATOR)
    listed = client.get(f"/api/v1/projects/{mine.id}/app-users", headers=coordinator.headers)
    assert listed.status_code == 200
    # No role in the other project: it is not revealed to exist.
    hidden = client.get(f"/api/v1/projects/{other.id}/app-users", headers=coordinator.headers)
    assert hidden.status_code == 404
    collector = factories.logged_in(mine, Role.DATA_COLLECTOR)
    weak = client.get(f"/api/v1/projects/{mine.id}/app-users", headers=collector.headers)
    assert weak.status_code == 403
    assert weak.json is not None and "coordinator" in weak.json["detail"]
    # The role the check found is what the view reports.
    shown = client.get(f"/api/v1/projects/{mine.id}", headers=collector.headers)
    assert shown.json is not None and shown.json["role"] == "data_collector"


def test_openrosa_devices_count_as_data_collectors_and_viewers_do_not(
    client: FlaskClient, factories: Factories
) -> None:
    project = factories.project()
    device = factories.device(project)
    assert client.head(f"{device.base_path}/submission", headers=OPENROSA).status_code == 204
    viewer = factories.user(project, Role.VIEWER)
    credentials = base64.b64encode(f"{viewer.email}:{DEFAULT_PASSWORD}".encode()).decode()
    refused = client.head(
        f"/v1/projects/{project.id}/submission",
        headers={**OPENROSA, "Authorization": f"Basic {credentials}"},
    )
    assert refused.status_code == 403


def test_blobs_need_the_role_in_the_named_project(
    client: FlaskClient, factories: Factories
) -> None:
    project = factories.project()
    sha = "0" * 64
    body = {"project_id": project.id, "sha256": [sha]}
    viewer = factories.logged_in(project, Role.VIEWER)
    refused = client.post("/api/v1/sync/blobs/missing", json=body, headers=viewer.headers)
    assert refused.status_code == 403
    assert refused.json is not None and "data_collector" in refused.json["detail"]
    # A data collector of another project is not one of this project's.
    collector = factories.logged_in(factories.project("elsewhere"), Role.DATA_COLLECTOR)
    elsewhere = client.post("/api/v1/sync/blobs/missing", json=body, headers=collector.headers)
    assert elsewhere.status_code == 404
    member = factories.logged_in(project, Role.DATA_COLLECTOR)
    allowed = client.post("/api/v1/sync/blobs/missing", json=body, headers=member.headers)
    assert allowed.status_code == 200
