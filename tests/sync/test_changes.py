"""Pull: the change feed, paged by opaque cursors, with ETags, scoped to the caller's projects,
and never skipping a row that a slow transaction commits late."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from server.accounts import service as accounts
from server.accounts.models import Role
from server.feed.cursors import Position, encode_cursor
from server.feed.models import SyncChange
from server.feed.service import record_change
from server.forms import service as forms
from server.forms.models import FormState
from server.projects.models import Project
from server.submissions import records as submission_records
from server.submissions import service as submissions
from server.submissions.models import ReviewState
from tests.factories import Factories
from tests.sync.conftest import SyncApi, instance_xml, new_instance_id


def _record(session: Session, project_id: int, keys: list[str]) -> None:
    for key in keys:
        record_change(session, project_id, "entity_version", key, {"uuid": key, "version": 1})
    session.commit()


def _pull_all(
    api: SyncApi,
    project_id: int,
    cursor: str | None = None,
    limit: int = 500,
    *,
    settle: bool = True,
) -> Any:
    """Follow ``more`` to the end; returns (changes, last cursor, pages)."""
    seen: list[dict[str, Any]] = []
    pages = 0
    while True:
        body = api.changes(project_id, cursor, limit, settle=settle).get_json()
        pages += 1
        seen += body["changes"]
        cursor = body["cursor"]
        if not body["more"]:
            return seen, cursor, pages


def test_publishing_a_form_appears_in_the_feed(api: SyncApi, project: Project) -> None:
    response = api.changes(project.id)
    assert response.status_code == 200
    body = response.get_json()
    assert body["more"] is False
    assert isinstance(body["cursor"], str) and body["cursor"]
    [change] = body["changes"]
    assert (change["kind"], change["key"]) == ("form_version", "simple")
    data = change["data"]
    assert (data["form_id"], data["version"], data["state"]) == ("simple", "1", "open")
    assert data["hash"].startswith("md5:")
    assert data["manifest_url"] == f"/v1/projects/{project.id}/forms/simple/manifest"
    xml = api.client.get(data["xml_url"], headers=api.headers())
    assert xml.status_code == 200
    assert b'id="simple"' in xml.data


def test_form_state_and_review_decisions_appear_in_the_feed(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    _, cursor, _ = _pull_all(api, project.id)
    instance = new_instance_id()
    pushed = api.push(
        {"project_id": project.id, "items": [{"client_id": "1", "xml": instance_xml(instance)}]},
        "k",
    )
    assert pushed.get_json()["results"][0]["status"] == "stored"
    form = forms.get_form(db_session, project.id, "simple")
    forms.set_state(db_session, form, FormState.CLOSING, api.who.user.id)
    submission = submission_records.get_submission(db_session, form, instance)
    submissions.set_review_state(db_session, submission, ReviewState.APPROVED, api.who.user.id)
    db_session.commit()

    changes, _, _ = _pull_all(api, project.id, cursor)
    assert [(c["kind"], c["key"]) for c in changes] == [
        ("form_state", "simple"),
        ("review_state", instance),
    ]
    assert changes[0]["data"] == {"form_id": "simple", "state": "closing"}
    assert changes[1]["data"]["state"] == "approved"
    assert changes[1]["data"]["form_id"] == "simple"


def test_pages_follow_one_another_without_gaps_or_repeats(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    keys = [f"entity-{i:02d}" for i in range(11)]
    _record(db_session, project.id, keys)
    first = api.changes(project.id, limit=4).get_json()
    assert len(first["changes"]) == 4
    assert first["more"] is True

    changes, cursor, pages = _pull_all(api, project.id, limit=4)
    assert pages == 3
    assert [c["key"] for c in changes] == ["simple", *keys]

    # Resuming from a stored cursor gives only what came after it.
    _record(db_session, project.id, ["entity-late"])
    later, _, _ = _pull_all(api, project.id, cursor)
    assert [c["key"] for c in later] == ["entity-late"]


def test_an_unchanged_pull_is_a_304(api: SyncApi, project: Project, db_session: Session) -> None:
    # The client keeps the cursor and the ETag of the last page it stored.
    last = api.changes(project.id)
    cursor, etag = last.get_json()["cursor"], last.headers["ETag"]
    assert last.get_json()["changes"]

    unchanged = api.changes(project.id, cursor, **{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    assert unchanged.headers["ETag"] == etag

    without_tag = api.changes(project.id, cursor)
    assert without_tag.status_code == 200
    assert without_tag.get_json() == {"changes": [], "cursor": cursor, "more": False}

    _record(db_session, project.id, ["entity-new"])
    changed = api.changes(project.id, cursor, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert [c["key"] for c in changed.get_json()["changes"]] == ["entity-new"]
    assert changed.headers["ETag"] != etag

    # A page with changes is sent even when the tag matches: the client may not hold it.
    tip_tag = changed.headers["ETag"]
    replay = api.changes(project.id, cursor, **{"If-None-Match": tip_tag})
    assert replay.status_code == 200
    assert [c["key"] for c in replay.get_json()["changes"]] == ["entity-new"]


def test_large_pages_are_gzipped_for_clients_that_accept_it(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    _record(db_session, project.id, [f"entity-{i}" for i in range(50)])
    response = api.changes(project.id, **{"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.data))
    assert len(body["changes"]) == 51


@pytest.mark.parametrize("cursor", ["garbage", "", "AAAA", "x" * 39])
def test_a_malformed_cursor_is_410(api: SyncApi, project: Project, cursor: str) -> None:
    response = api.changes(project.id, cursor or "!!")
    assert response.status_code == 410
    assert response.get_json()["code"] == "sync.cursor_expired"


def test_a_tampered_cursor_is_410(api: SyncApi, project: Project) -> None:
    _, cursor, _ = _pull_all(api, project.id)
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    assert api.changes(project.id, flipped).status_code == 410


def test_a_cursor_of_another_project_or_server_is_410(
    api: SyncApi, project: Project, factories: Factories, db_session: Session, app: Flask
) -> None:
    other = factories.project()
    accounts.grant_role(
        db_session, db_session.merge(api.who.user), db_session.merge(other), Role.COORDINATOR
    )
    _record(db_session, other.id, ["there"])
    _, theirs, _ = _pull_all(api, other.id)
    assert api.changes(project.id, theirs).status_code == 410

    # Same position, signed by a server with another secret.
    row_id = db_session.query(SyncChange.id).filter_by(project_id=project.id).scalar()
    db_session.rollback()
    scope = f"{project.id}:{project.created_at.isoformat()}"
    foreign = encode_cursor("another-server's-secret", scope, Position(0, row_id))
    assert api.changes(project.id, foreign).status_code == 410


def test_a_cursor_whose_row_was_pruned_is_410(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    _record(db_session, project.id, ["a", "b"])
    _, cursor, _ = _pull_all(api, project.id)
    db_session.execute(delete(SyncChange).where(SyncChange.key == "b"))
    db_session.commit()
    response = api.changes(project.id, cursor)
    assert response.status_code == 410
    assert "pull again without a cursor" in response.get_json()["detail"]


def test_pull_is_scoped_to_the_callers_projects(
    client: FlaskClient, api: SyncApi, factories: Factories
) -> None:
    elsewhere = factories.project()
    assert api.changes(elsewhere.id).status_code == 404
    assert api.changes(elsewhere.id + 1000).status_code == 404
    assert client.get(f"/api/v1/sync/changes?project_id={elsewhere.id}").status_code == 401


def test_a_viewer_may_pull(client: FlaskClient, project: Project, factories: Factories) -> None:
    viewer = SyncApi(client, factories.logged_in(project, Role.VIEWER), project.id)
    assert viewer.changes(project.id).status_code == 200


def test_bad_query_parameters_are_400(api: SyncApi, project: Project) -> None:
    assert api.client.get("/api/v1/sync/changes", headers=api.headers()).status_code == 400
    assert api.changes(project.id, limit="many").status_code == 400  # type: ignore[arg-type]


def test_record_change_refuses_an_unknown_kind(db_session: Session, project: Project) -> None:
    with pytest.raises(ValueError):
        record_change(db_session, project.id, "gossip", "k", {})
    db_session.rollback()


def test_a_late_commit_is_not_skipped(
    app: Flask, api: SyncApi, project: Project, db_session: Session
) -> None:
    """T1 writes a change and stays open; T2 writes one and commits. A pull must not move past
    T1's row (that would lose it for good); once T1 commits, the next pull delivers both."""
    engine = app.extensions["fieldsync"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): ids are commit order")
    _, cursor, _ = _pull_all(api, project.id)
    factory = app.extensions["fieldsync"].session_factory
    slow = factory()
    fast = factory()
    try:
        record_change(slow, project.id, "entity_version", "slow", {"n": 1})
        record_change(fast, project.id, "entity_version", "fast", {"n": 2})
        fast.commit()

        during, during_cursor, _ = _pull_all(api, project.id, cursor, settle=False)
        assert "slow" not in [c["key"] for c in during]
        # The fast row was taken after the slow one, so it is held back with it.
        assert "fast" not in [c["key"] for c in during]
        assert during_cursor == cursor

        slow.commit()
        after, _, _ = _pull_all(api, project.id, during_cursor)
        assert [c["key"] for c in after] == ["slow", "fast"]
    finally:
        slow.close()
        fast.close()
