"""Finding 3: password guessing is throttled per account and per address on every route that
takes a password, the count is shared by server processes, unknown emails cost the same work,
failures are audited without the password, and revoking sessions does not reveal accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from flask import Flask
from sqlalchemy import select, update

from server.accounts import login
from server.accounts.models import ApiToken, LoginAttempts
from server.accounts.throttle import DEFAULT_POLICY
from server.audit.models import AuditEntry
from server.db import utcnow
from server.projects.models import Project
from server.submissions.models import Submission
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.openrosa.helpers import OPENROSA, count, new_instance_id, requests_files, simple_xml
from tests.security.helpers import basic_header, challenge, digest_header

WRONG = "not the password at all"
LIMIT = DEFAULT_POLICY.per_account


def _session(server: LiveServer, email: str, password: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/sessions", json={"email": email, "password": password}, timeout=10
    )


def _assert_throttled(response: requests.Response) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= DEFAULT_POLICY.window_seconds


def test_the_right_password_after_too_many_wrong_ones_gets_429_and_no_token(
    app: Flask, live_server: LiveServer, factories: Factories
) -> None:
    user = factories.user()
    for _ in range(LIMIT):
        assert _session(live_server, user.email, WRONG).status_code == 401
    response = _session(live_server, user.email, DEFAULT_PASSWORD)
    _assert_throttled(response)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "auth.too_many_attempts"
    assert count(app, ApiToken) == 0


def test_a_success_starts_the_account_afresh(live_server: LiveServer, factories: Factories) -> None:
    user = factories.user()
    for _ in range(2):
        for _ in range(LIMIT - 1):
            assert _session(live_server, user.email, WRONG).status_code == 401
        assert _session(live_server, user.email, DEFAULT_PASSWORD).status_code == 201


def test_the_lock_ends_with_its_window(live_server: LiveServer, factories: Factories) -> None:
    user = factories.user()
    for _ in range(LIMIT + 1):
        _session(live_server, user.email, WRONG)
    assert _session(live_server, user.email, DEFAULT_PASSWORD).status_code == 429
    with factories.session() as session, session.begin():
        session.execute(
            update(LoginAttempts).values(window_ends_at=utcnow() - timedelta(seconds=1))
        )
    assert _session(live_server, user.email, DEFAULT_PASSWORD).status_code == 201


def test_one_address_guessing_many_accounts_is_throttled(
    live_server: LiveServer, factories: Factories
) -> None:
    victim = factories.user()
    # A spray: a few guesses at many accounts, never reaching any account's own limit.
    for index in range(DEFAULT_POLICY.per_address):
        assert _session(live_server, f"user{index // 5}@spray.example", WRONG).status_code == 401
    _assert_throttled(_session(live_server, victim.email, DEFAULT_PASSWORD))


def test_the_count_is_shared_by_server_processes(
    live_server: LiveServer, second_server: LiveServer, factories: Factories
) -> None:
    user = factories.user()
    for index in range(LIMIT):
        server = live_server if index % 2 else second_server
        assert _session(server, user.email, WRONG).status_code == 401
    _assert_throttled(_session(second_server, user.email, DEFAULT_PASSWORD))
    _assert_throttled(_session(live_server, user.email, DEFAULT_PASSWORD))


def test_basic_on_openrosa_is_throttled_and_the_submission_not_stored(
    app: Flask, live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector")
    url = f"{live_server.url}/v1/projects/{project.id}/submission"

    def submit(password: str) -> requests.Response:
        return requests.post(
            url,
            files=requests_files(simple_xml(new_instance_id())),
            headers={**OPENROSA, "Authorization": basic_header(collector.email, password)},
            timeout=10,
        )

    for _ in range(LIMIT):
        assert submit(WRONG).status_code == 401
    response = submit(DEFAULT_PASSWORD)
    _assert_throttled(response)
    assert b'nature="auth.too_many_attempts"' in response.content
    assert "WWW-Authenticate" not in response.headers
    assert count(app, Submission) == 0


def test_digest_guesses_are_throttled(
    live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    url = f"{live_server.url}/v1/projects/{project.id}/formList"

    def get(password: str) -> requests.Response:
        header = digest_header(challenge(url, "GET"), "GET", url, collector.email, password)
        return requests.get(url, headers={**OPENROSA, "Authorization": header}, timeout=10)

    for _ in range(LIMIT):
        assert get(WRONG).status_code == 401
    response = get(DEFAULT_PASSWORD)
    _assert_throttled(response)
    assert b"<xforms" not in response.content


def test_an_unknown_email_costs_a_password_check_too(
    live_server: LiveServer, factories: Factories, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = login.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(login, "verify_password", counting)
    user = factories.user()
    assert _session(live_server, "nobody@example.org", WRONG).status_code == 401
    assert _session(live_server, user.email, WRONG).status_code == 401
    assert len(checked) == 2
    # Both hashes are of the same kind, so they take the same time to check.
    assert checked[0].split("$")[0] == checked[1].split("$")[0]


def test_failed_logins_are_audited_without_the_password(
    live_server: LiveServer, factories: Factories
) -> None:
    user = factories.user()
    assert _session(live_server, user.email, WRONG).status_code == 401
    # A forged X-Forwarded-For does not move the attempt to another address (no proxy is
    # trusted unless FIELDSYNC_PROXY_HOPS says so).
    spoofed = requests.post(
        f"{live_server.url}/api/v1/sessions",
        json={"email": "nobody@example.org", "password": WRONG},
        headers={"X-Forwarded-For": "203.0.113.9"},
        timeout=10,
    )
    assert spoofed.status_code == 401
    with factories.session() as session:
        entries = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == "auth.failed").order_by(AuditEntry.id)
            )
        )
    assert [e.details["reason"] for e in entries] == ["wrong_password", "unknown_account"]
    assert entries[0].target_id == str(user.id)
    assert all(e.details["scheme"] == "session" for e in entries)
    assert all(e.details["address"] == "127.0.0.1" for e in entries)
    for entry in entries:
        text = repr(entry.details) + entry.target_id
        assert WRONG not in text
        assert "nobody@example.org" not in text


@pytest.mark.parametrize("exists", [True, False])
def test_revoking_someone_elses_sessions_is_refused_before_looking_them_up(
    live_server: LiveServer, factories: Factories, exists: bool
) -> None:
    caller = factories.login(factories.user())
    target = factories.user().email if exists else "nobody@example.org"
    response = requests.delete(
        f"{live_server.url}/api/v1/users/{target}/sessions", headers=caller.headers, timeout=10
    )
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"
