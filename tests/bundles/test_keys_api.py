"""The key registry over the JSON API: a laptop registers its keys, fetches the project's key,
sees its colleagues' keys, and a key is revoked by its owner or a site administrator only."""

from __future__ import annotations

from flask.testing import FlaskClient

from server.accounts.models import Role
from server.bundles.crypto import KeyPair
from tests.factories import Factories


def test_register_list_fetch_and_revoke(client: FlaskClient, factories: Factories) -> None:
    project = factories.project()
    north = factories.logged_in(project, Role.COORDINATOR)
    south = factories.logged_in(project, Role.DATA_COLLECTOR)
    outsider = factories.login(factories.user())
    mine = KeyPair.generate().public
    body = {**mine.to_json(), "label": "north laptop"}

    first = client.post("/api/v1/bundle-keys", json=body, headers=north.headers)
    assert first.status_code == 201 and first.json["key_id"] == mine.key_id
    again = client.post("/api/v1/bundle-keys", json=body, headers=north.headers)
    assert again.status_code == 200
    taken = client.post("/api/v1/bundle-keys", json=body, headers=south.headers)
    assert taken.status_code == 409 and taken.json["code"] == "key.taken"
    forged = client.post(
        "/api/v1/bundle-keys", json={**body, "key_id": "0" * 32}, headers=south.headers
    )
    assert forged.status_code == 400 and forged.json["code"] == "key.invalid"

    # The project's key: made once, the same for everyone who asks.
    centre = client.get(f"/api/v1/projects/{project.id}/bundle-key", headers=south.headers)
    assert centre.status_code == 200
    assert (
        client.get(f"/api/v1/projects/{project.id}/bundle-key", headers=north.headers).json
        == centre.json
    )
    hidden = client.get(f"/api/v1/projects/{project.id}/bundle-key", headers=outsider.headers)
    assert hidden.status_code == 404

    members = client.get(f"/api/v1/projects/{project.id}/bundle-keys", headers=south.headers)
    assert [(m["key_id"], m["label"], m["revoked"]) for m in members.json] == [
        (mine.key_id, "north laptop", False)
    ]
    assert [
        k["key_id"] for k in client.get("/api/v1/bundle-keys", headers=south.headers).json
    ] == []

    # Only the owner (or a site administrator) revokes it; to others it does not exist.
    denied = client.delete(f"/api/v1/bundle-keys/{mine.key_id}", headers=south.headers)
    assert denied.status_code == 404 and denied.json["code"] == "key.not_found"
    revoked = client.delete(
        f"/api/v1/bundle-keys/{mine.key_id}?reason=laptop+lost", headers=north.headers
    )
    assert revoked.status_code == 204
    [listed] = client.get("/api/v1/bundle-keys", headers=north.headers).json
    assert listed["revoked_reason"] == "laptop lost" and listed["revoked_at"]
    members = client.get(f"/api/v1/projects/{project.id}/bundle-keys", headers=south.headers)
    assert members.json[0]["revoked"] is True
