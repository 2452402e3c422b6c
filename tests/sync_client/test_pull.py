"""Pulling against a real server, in-process: an unchanged pull costs one small request, and a
cursor the server cannot serve makes the client start again from scratch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sync_client.backoff import RetryPolicy
from sync_client.http import Api
from sync_client.pull import pull, stored_cursor
from sync_client.store import Store
from tests.factories import Factories
from tests.sync_client.odk import SIMPLE_FORM

pytestmark = pytest.mark.e2e


class Recorder:
    """Every answer the client got: (method, path, status, body bytes on the wire)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int, int]] = []

    def __call__(self, response: requests.Response, *_args: object, **_kwargs: object) -> None:
        raw = response.headers.get("Content-Length")
        size = int(raw) if raw is not None else len(response.content)
        self.seen.append(
            (response.request.method or "", response.request.path_url, response.status_code, size)
        )


@pytest.fixture
def api(factories: Factories, live_server: object) -> Iterator[tuple[Api, Recorder, int]]:
    project = factories.project("Pull")
    factories.publish(project, SIMPLE_FORM)
    logged_in = factories.logged_in(project, "coordinator")
    recorder = Recorder()
    client = Api(live_server.url, logged_in.token, RetryPolicy(max_retries=2))  # type: ignore[attr-defined]
    client.session.hooks["response"].append(recorder)
    yield client, recorder, project.id
    client.session.close()


def test_an_unchanged_pull_is_one_small_request(
    store: Store, api: tuple[Api, Recorder, int]
) -> None:
    client, recorder, project_id = api
    first = pull(store, client, project_id)
    assert first.changes["form_version"] == 1
    assert first.forms_fetched == 1
    pull(store, client, project_id)  # learns the ETag of "nothing after this cursor"
    recorder.seen.clear()
    again = pull(store, client, project_id)
    assert again.unchanged
    assert len(recorder.seen) == 1
    method, path, status, size = recorder.seen[0]
    assert (method, status, size) == ("GET", 304, 0)
    assert path.startswith("/api/v1/sync/changes?")


def test_a_cursor_the_server_cannot_serve_restarts_from_scratch(
    store: Store, api: tuple[Api, Recorder, int], tmp_path: Path
) -> None:
    client, _recorder, project_id = api
    pull(store, client, project_id)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE cursors SET cursor = 'not-a-cursor-of-this-server', etag = NULL "
            "WHERE project_id = ?",
            (project_id,),
        )
        conn.execute(
            "INSERT INTO review_states VALUES (?, 'uuid:stale', 'approved', 'x')", (project_id,)
        )
    report = pull(store, client, project_id)
    assert report.resynced
    assert report.changes["form_version"] == 1
    # the stale local copy is gone, what the server holds is back, with a cursor it can serve
    assert store.conn.execute("SELECT COUNT(*) FROM review_states").fetchone()[0] == 0
    assert store.conn.execute("SELECT form_id, xml IS NOT NULL FROM form_versions").fetchall() == [
        ("simple", 1)
    ]
    assert stored_cursor(store, project_id)[0] != "not-a-cursor-of-this-server"


def test_an_entity_deleted_on_the_server_leaves_the_laptop(
    store: Store, factories: Factories, live_server: object
) -> None:
    project = factories.project("Deletions")
    register = Path(__file__).resolve().parent.parent / "central_api" / "fixtures"
    factories.publish_bytes(
        project, "area_register.xml", (register / "area_register.xml").read_bytes()
    )
    admin = factories.logged_in(project, "administrator")
    client = Api(live_server.url, admin.token, RetryPolicy(max_retries=2))  # type: ignore[attr-defined]
    entities = f"{live_server.url}/v1/projects/{project.id}/datasets/hazard_areas/entities"  # type: ignore[attr-defined]
    uuid = "5d2b7c1e-0000-4000-8000-00000000beef"
    created = requests.post(
        entities,
        json={"uuid": uuid, "label": "North field", "data": {}},
        headers=admin.headers,
        timeout=10,
    )
    assert created.status_code == 200
    query = "SELECT uuid FROM entities WHERE project_id = ?"

    def local() -> list[str]:
        return [r[0] for r in store.conn.execute(query, (project.id,))]

    # On PostgreSQL the feed hands a change out once every older transaction of the cluster
    # has ended, so a busy database may need a few pulls.
    def pull_until(expected: list[str]) -> None:
        for _attempt in range(100):
            pull(store, client, project.id)
            if local() == expected:
                return
            time.sleep(0.1)
        assert local() == expected

    pull_until([uuid])
    assert (
        requests.delete(f"{entities}/{uuid}", headers=admin.headers, timeout=10).status_code == 200
    )
    pull_until([])
    client.session.close()
