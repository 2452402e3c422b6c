"""Every route of the server has decided what it does with personal data: a URL rule missing
from server.personal.registry (or a registry entry for a route that is gone) fails here."""

from __future__ import annotations

from flask import Flask

from server.personal.registry import ROUTES, Carries


def test_every_route_decided_its_access_to_personal_data(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    undecided = sorted(endpoints - set(ROUTES))
    assert undecided == [], f"add these routes to server/personal/registry.py: {undecided}"
    gone = sorted(set(ROUTES) - endpoints)
    assert gone == [], f"these routes no longer exist: {gone}"


def test_a_new_route_without_a_decision_is_caught(app: Flask) -> None:
    app.add_url_rule("/api/v1/survivors/everything", "leak", lambda: "")
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == {"leak"}


def test_the_routes_that_answer_with_records_are_the_guarded_ones() -> None:
    guarded = {e for e, c in ROUTES.items() if c in (Carries.REDACTED, Carries.DEVICE)}
    for endpoint in (
        "submissions_api.get_submission",
        "submissions_api.download_attachment",
        "entities_api.list_entities",
        "entities_api.entity_versions",
        "entities_api.list_conflicts",
        "sync_api.pull_changes",
        "exports_api.submissions_csv_zip",
        "central.get_submission_xml",
        "central_odata.table_rows",
        "central_entities.get_entity",
        "openrosa.media_file_key",
    ):
        assert endpoint in guarded, endpoint
