"""Finding 1: a sniffed ``Authorization: Digest`` header must not authorise anything again.

Every test drives the server over HTTP the way an attacker on the camp's Wi-Fi would: it takes a
header a collector's tablet sent and sends it again, with another body or a lower count.
"""

from __future__ import annotations

from datetime import timedelta

import requests
from flask import Flask
from sqlalchemy import select

from server.accounts.models import DigestNonce
from server.db import utcnow
from server.projects.models import Project
from server.submissions.models import Submission
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.openrosa.helpers import OPENROSA, count, new_instance_id, requests_files, simple_xml
from tests.security.helpers import challenge, challenges_of, digest_header


def _submit(url: str, header: str, name: str) -> requests.Response:
    return requests.post(
        url,
        files=requests_files(simple_xml(new_instance_id(), name=name)),
        headers={**OPENROSA, "Authorization": header},
        timeout=10,
    )


def test_a_replayed_submission_header_with_another_body_gets_401_and_stores_nothing(
    app: Flask, live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    url = f"{live_server.url}/v1/projects/{project.id}/submission"
    sniffed = digest_header(challenge(url), "POST", url, collector.email, DEFAULT_PASSWORD)
    assert _submit(url, sniffed, "the collector's report").status_code == 201

    forged = _submit(url, sniffed, "a forged report")
    assert forged.status_code == 401
    assert b'nature="auth.openrosa_credentials"' in forged.content
    digest = next(c for c in challenges_of(forged) if c.startswith("Digest"))
    assert "stale=true" in digest
    assert count(app, Submission) == 1


def test_a_nonce_authorises_one_write_even_with_a_higher_count(
    app: Flask, live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    url = f"{live_server.url}/v1/projects/{project.id}/submission"
    nonce_challenge = challenge(url)
    # Collect's own flow: HEAD, then POST, on one nonce with rising counts.
    head = digest_header(nonce_challenge, "HEAD", url, collector.email, DEFAULT_PASSWORD, nc=1)
    response = requests.head(url, headers={**OPENROSA, "Authorization": head}, timeout=10)
    assert response.status_code == 204
    post = digest_header(nonce_challenge, "POST", url, collector.email, DEFAULT_PASSWORD, nc=2)
    assert _submit(url, post, "first").status_code == 201

    again = digest_header(nonce_challenge, "POST", url, collector.email, DEFAULT_PASSWORD, nc=3)
    second = _submit(url, again, "second on a spent nonce")
    assert second.status_code == 401
    assert any("stale=true" in c for c in challenges_of(second))
    assert count(app, Submission) == 1

    # Collect answers the fresh challenge and gets in.
    fresh = challenges_of(second)[0]
    header = digest_header(fresh, "POST", url, collector.email, DEFAULT_PASSWORD)
    assert _submit(url, header, "second").status_code == 201
    assert count(app, Submission) == 2


def test_a_replayed_or_lower_count_on_a_download_gets_a_fresh_challenge(
    live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    url = f"{live_server.url}/v1/projects/{project.id}/formList"
    value = challenge(url, "GET")

    def get(nc: int) -> requests.Response:
        header = digest_header(value, "GET", url, collector.email, DEFAULT_PASSWORD, nc=nc)
        return requests.get(url, headers={**OPENROSA, "Authorization": header}, timeout=10)

    assert get(2).status_code == 200
    for replayed in (2, 1):
        response = get(replayed)
        assert response.status_code == 401, replayed
        assert any("stale=true" in c for c in challenges_of(response))
        assert b"<xforms" not in response.content
    assert get(3).status_code == 200


def test_nonce_use_is_shared_by_every_server_process(
    app: Flask,
    live_server: LiveServer,
    second_server: LiveServer,
    factories: Factories,
    project: Project,
    simple_form: None,
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    path = f"/v1/projects/{project.id}/submission"
    first_url, second_url = live_server.url + path, second_server.url + path
    sniffed = digest_header(
        challenge(first_url), "POST", first_url, collector.email, DEFAULT_PASSWORD
    )
    assert _submit(first_url, sniffed, "original").status_code == 201
    # The same header sent to the other process: it knows the nonce was used.
    assert _submit(second_url, sniffed, "forged elsewhere").status_code == 401
    assert count(app, Submission) == 1


def test_used_nonces_are_swept_once_expired(
    app: Flask, live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    url = f"{live_server.url}/v1/projects/{project.id}/formList"

    def log_in() -> None:
        header = digest_header(challenge(url, "GET"), "GET", url, collector.email, DEFAULT_PASSWORD)
        response = requests.get(url, headers={**OPENROSA, "Authorization": header}, timeout=10)
        assert response.status_code == 200

    log_in()
    with factories.session() as session, session.begin():
        (row,) = session.scalars(select(DigestNonce))
        old = row.nonce
        row.expires_at = utcnow() - timedelta(seconds=1)
    log_in()
    with factories.session() as session:
        nonces = list(session.scalars(select(DigestNonce.nonce)))
    assert len(nonces) == 1
    assert old not in nonces
