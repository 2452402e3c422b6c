"""Who may use the OpenRosa routes: device tokens (403, never 401), Basic and Digest users."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.accounts import service as accounts
from server.accounts.models import AppUser
from server.openrosa.auth import NONCE_TTL_SECONDS, check_nonce, make_nonce
from server.projects.models import Project
from tests.factories import DEFAULT_PASSWORD, Device, Factories
from tests.openrosa.helpers import (
    OPENROSA,
    digest_authorization,
    form_data,
    new_instance_id,
    simple_xml,
)


def basic(email: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {**OPENROSA, "Authorization": f"Basic {token}"}


def digest_challenge(client: FlaskClient, path: str, method: str = "GET") -> str:
    response = client.open(path, method=method, headers=OPENROSA)
    assert response.status_code == 401
    challenges = response.headers.getlist("WWW-Authenticate")
    return next(c for c in challenges if c.startswith("Digest "))


@pytest.mark.parametrize("suffix", ["/formList", "/submission", "/forms/simple.xml"])
def test_an_unknown_token_gets_403_and_no_password_prompt(
    client: FlaskClient, project: Project, simple_form: None, suffix: str
) -> None:
    response = client.get(f"/v1/key/not-a-token/projects/{project.id}{suffix}", headers=OPENROSA)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert b"OpenRosaResponse" in response.data


def test_a_revoked_token_gets_403(
    client: FlaskClient, factories: Factories, device: Device
) -> None:
    assert client.get(device.base_path + "/formList", headers=OPENROSA).status_code == 200
    with factories.session() as session, session.begin():
        accounts.revoke_app_user(session, session.get(AppUser, device.app_user_id))
    response = client.get(device.base_path + "/formList", headers=OPENROSA)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers


def test_a_token_only_opens_its_own_project(
    client: FlaskClient, factories: Factories, device: Device
) -> None:
    other = factories.project()
    response = client.get(f"/v1/key/{device.token}/projects/{other.id}/formList", headers=OPENROSA)
    assert response.status_code == 403


def test_user_routes_challenge_with_digest_and_basic(client: FlaskClient, project: Project) -> None:
    response = client.get(f"/v1/projects/{project.id}/formList", headers=OPENROSA)
    assert response.status_code == 401
    assert b"OpenRosaResponse" in response.data
    challenges = response.headers.getlist("WWW-Authenticate")
    assert len(challenges) == 2
    digest, basic_challenge = challenges
    assert digest.startswith('Digest realm="fieldsync"')
    assert 'qop="auth"' in digest
    assert "nonce=" in digest
    assert basic_challenge.startswith('Basic realm="fieldsync"')


def test_basic_auth_lets_a_data_collector_in_and_refuses_a_wrong_password(
    client: FlaskClient, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector")
    path = f"/v1/projects/{project.id}/formList"
    assert client.get(path, headers=basic(collector.email)).status_code == 200
    wrong = client.get(path, headers=basic(collector.email, "not the password"))
    assert wrong.status_code == 401
    assert len(wrong.headers.getlist("WWW-Authenticate")) == 2


def test_digest_auth_round_trip_for_download_and_submission(
    app: Flask, client: FlaskClient, factories: Factories, project: Project, simple_form: None
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    path = f"/v1/projects/{project.id}/formList"
    challenge = digest_challenge(client, path)
    header = digest_authorization(challenge, "GET", path, collector.email, DEFAULT_PASSWORD)
    response = client.get(path, headers={**OPENROSA, "Authorization": header})
    assert response.status_code == 200
    assert b"<formID>simple</formID>" in response.data

    submit = f"/v1/projects/{project.id}/submission"
    challenge = digest_challenge(client, submit, "HEAD")
    header = digest_authorization(challenge, "POST", submit, collector.email, DEFAULT_PASSWORD)
    response = client.post(
        submit,
        data=form_data(simple_xml(new_instance_id())),
        headers={**OPENROSA, "Authorization": header},
    )
    assert response.status_code == 201


def test_digest_refuses_a_wrong_password_a_forged_nonce_and_another_uri(
    client: FlaskClient, factories: Factories, project: Project
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    path = f"/v1/projects/{project.id}/formList"
    challenge = digest_challenge(client, path)
    wrong = digest_authorization(challenge, "GET", path, collector.email, "wrong password!")
    assert client.get(path, headers={**OPENROSA, "Authorization": wrong}).status_code == 401

    forged = challenge.replace('nonce="', 'nonce="1', 1)
    header = digest_authorization(forged, "GET", path, collector.email, DEFAULT_PASSWORD)
    assert client.get(path, headers={**OPENROSA, "Authorization": header}).status_code == 401

    other = f"/v1/projects/{project.id}/submission"
    header = digest_authorization(challenge, "GET", other, collector.email, DEFAULT_PASSWORD)
    assert client.get(path, headers={**OPENROSA, "Authorization": header}).status_code == 401


def test_an_expired_nonce_with_the_right_password_is_answered_stale(
    app: Flask, client: FlaskClient, factories: Factories, project: Project
) -> None:
    import time

    collector = factories.user(project, "data_collector", digest=True)
    secret = app.extensions["fieldsync"].settings.secret_key
    old = make_nonce(secret, now=time.time() - NONCE_TTL_SECONDS - 5)
    assert check_nonce(old, secret) == "stale"
    path = f"/v1/projects/{project.id}/formList"
    header = digest_authorization(
        f'Digest realm="fieldsync", nonce="{old}"', "GET", path, collector.email, DEFAULT_PASSWORD
    )
    response = client.get(path, headers={**OPENROSA, "Authorization": header})
    assert response.status_code == 401
    assert "stale=true" in response.headers.getlist("WWW-Authenticate")[0]


def test_users_without_a_role_or_only_viewing_cannot_submit(
    client: FlaskClient, factories: Factories, project: Project, simple_form: None
) -> None:
    outsider = factories.user()
    viewer = factories.user(project, "viewer")
    submit = f"/v1/projects/{project.id}/submission"
    for user in (outsider, viewer):
        response = client.post(
            submit, data=form_data(simple_xml(new_instance_id())), headers=basic(user.email)
        )
        assert response.status_code == 403, user.email
        assert client.head(submit, headers=basic(user.email)).status_code == 403


def test_digest_without_a_nonce_count_is_refused(
    client: FlaskClient, factories: Factories, project: Project
) -> None:
    import hashlib

    collector = factories.user(project, "data_collector", digest=True)
    path = f"/v1/projects/{project.id}/formList"
    challenge = digest_challenge(client, path)
    nonce = challenge.split('nonce="', 1)[1].split('"', 1)[0]

    def h(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    # RFC 2069 style (no qop, no nc): right password, but a replay could not be recognised.
    ha1 = h(f"{collector.email}:fieldsync:{DEFAULT_PASSWORD}")
    response = h(f"{ha1}:{nonce}:{h('GET:' + path)}")
    header = (
        f'Digest username="{collector.email}", realm="fieldsync", nonce="{nonce}", '
        f'uri="{path}", response="{response}"'
    )
    refused = client.get(path, headers={**OPENROSA, "Authorization": header})
    assert refused.status_code == 401
    assert b"qop" in refused.data
    bad_count = digest_authorization(
        challenge, "GET", path, collector.email, DEFAULT_PASSWORD, nc="zz"
    )
    assert client.get(path, headers={**OPENROSA, "Authorization": bad_count}).status_code == 401
