"""The real pyodk client against a live fieldsync: log in, list projects and forms, send,
read and review submissions, read the XML of one. Expected values are written from Central's
API documentation (docs.getodk.org/central-api): field names, null review state before a
review, timestamps in UTC with milliseconds and ``Z``."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
import requests
import toml
from pyodk.client import Client
from pyodk.errors import PyODKError

from tests.central_api.conftest import Central
from tests.openrosa.helpers import FIXTURES, simple_xml

pytestmark = pytest.mark.e2e

CENTRAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def test_open_logs_in_and_caches_a_token_the_server_accepts(central: Central) -> None:
    client = central.client()
    client.open()
    try:
        cached = toml.load(central.tmp / "coordinator_example.org.cache.toml")["token"]
        me = requests.get(
            f"{central.url}/users/current",
            headers={"Authorization": f"Bearer {cached}"},
            timeout=10,
        )
        assert me.status_code == 200
        assert me.json()["email"] == "coordinator@example.org"
        assert me.json()["id"] == central.user.id
        assert me.json()["type"] == "user"
        assert CENTRAL_TIME.match(me.json()["createdAt"])
        # The same token works on fieldsync's own API: the two are one kind of token.
        own = requests.get(
            f"{central.server.url}/api/v1/users/current",
            headers={"Authorization": f"Bearer {cached}"},
            timeout=10,
        )
        assert own.status_code == 200
    finally:
        client.close()


def test_a_wrong_password_is_refused_as_central_refuses_it(central: Central) -> None:
    client = central.client(password="not the password")
    with pytest.raises(PyODKError) as raised:
        client.open()
    response = raised.value.args[1]
    assert response.status_code == 401
    assert response.json()["code"] == 401.2


def test_projects_list_and_get(central: Central, pyodk_client: Client) -> None:
    listed = pyodk_client.projects.list()
    assert [(p.id, p.name, p.archived) for p in listed] == [
        (central.project.id, "Mine action survey", False)
    ]
    one = pyodk_client.projects.get()
    assert one.id == central.project.id
    assert one.name == "Mine action survey"
    assert one.deletedAt is None


def test_forms_list_gives_centrals_form_fields(central: Central, pyodk_client: Client) -> None:
    forms = pyodk_client.forms.list()
    assert len(forms) == 1
    form = forms[0]
    assert form.projectId == central.project.id
    assert form.xmlFormId == "simple"
    assert form.name == "Simple test form"
    assert form.version == "1"
    assert form.state == "open"
    assert form.keyId is None
    assert form.enketoId is None
    assert form.publishedAt is not None
    # Central's hash is the MD5 of the XForm as served.
    xml = pyodk_client.forms.get_xml("simple")
    assert "<h:title>Simple test form</h:title>" in xml
    assert form.hash == hashlib.md5(xml.encode(), usedforsecurity=False).hexdigest()
    assert pyodk_client.forms.get("simple").xmlFormId == "simple"


def test_submissions_create_list_get_xml_and_review(central: Central, pyodk_client: Client) -> None:
    first, second = new_id(), new_id()
    created = pyodk_client.submissions.create(
        simple_xml(first, name="Minefield north").decode(), form_id="simple"
    )
    assert created.instanceId == first
    assert created.submitterId == central.user.id
    assert created.reviewState is None
    assert created.updatedAt is None
    pyodk_client.submissions.create(simple_xml(second, name="Minefield south").decode(), "simple")

    listed = pyodk_client.submissions.list(form_id="simple")
    assert [s.instanceId for s in listed] == [first, second]
    assert all(s.reviewState is None for s in listed)

    assert pyodk_client.submissions.get(first, form_id="simple").instanceId == first
    # pyodk has no call for a submission's XML; scripts fetch Central's URL with its session.
    xml = pyodk_client.get(f"projects/{central.project.id}/forms/simple/submissions/{first}.xml")
    assert xml.status_code == 200
    assert xml.headers["Content-Type"].startswith("application/xml")
    assert xml.text == simple_xml(first, name="Minefield north").decode()

    pyodk_client.submissions.review(first, "approved", form_id="simple")
    pyodk_client.submissions.review(second, "hasIssues", form_id="simple")
    states = {s.instanceId: s.reviewState for s in pyodk_client.submissions.list("simple")}
    assert states == {first: "approved", second: "hasIssues"}
    reviewed = pyodk_client.submissions.get(first, form_id="simple")
    assert reviewed.updatedAt is not None


def test_extended_form_metadata_counts_submissions(central: Central, pyodk_client: Client) -> None:
    for _ in range(3):
        pyodk_client.submissions.create(simple_xml(new_id()).decode(), form_id="simple")
    one = pyodk_client.submissions.list("simple")[0].instanceId
    pyodk_client.submissions.review(one, "hasIssues", form_id="simple")
    response = pyodk_client.get(
        f"projects/{central.project.id}/forms", headers={"X-Extended-Metadata": "true"}
    )
    form = response.json()[0]
    assert form["submissions"] == 3
    assert form["reviewStates"] == {"received": 2, "hasIssues": 1, "edited": 0}
    assert CENTRAL_TIME.match(form["lastSubmission"])
    plain = pyodk_client.get(f"projects/{central.project.id}/forms").json()[0]
    assert "submissions" not in plain
    with_forms = pyodk_client.get("projects", params={"forms": "true"}).json()[0]
    assert [f["xmlFormId"] for f in with_forms["formList"]] == ["simple"]
    assert with_forms["formList"][0]["submissions"] == 3


def simple_form_xml(version: str, title: str = "Simple test form") -> str:
    xml = (FIXTURES / "simple_form.xml").read_text(encoding="utf-8")
    return xml.replace('version="1"', f'version="{version}"').replace(
        "<h:title>Simple test form</h:title>", f"<h:title>{title}</h:title>"
    )


def test_forms_create_and_update_publish_new_versions(
    central: Central, admin_client: Client
) -> None:
    pyodk_client = admin_client
    new_form = simple_form_xml("1").replace('id="simple"', 'id="clearance_check"')
    created = pyodk_client.forms.create(definition=new_form)
    assert created.xmlFormId == "clearance_check"
    assert created.version == "1"
    assert [f.xmlFormId for f in pyodk_client.forms.list()] == ["clearance_check", "simple"]

    pyodk_client.forms.update("simple", definition=simple_form_xml("2", "Simple, second"))
    form = pyodk_client.forms.get("simple")
    assert (form.version, form.name) == ("2", "Simple, second")
    versions = pyodk_client.get(f"projects/{central.project.id}/forms/simple/versions").json()
    assert [v["version"] for v in versions] == ["2", "1"]
    # Collect gets the new version too: one form library behind both APIs.
    assert 'version="2"' in pyodk_client.forms.get_xml("simple")


def test_forms_update_refusals(central: Central, admin_client: Client) -> None:
    pyodk_client = admin_client
    other = simple_form_xml("5").replace('id="simple"', 'id="someone_else"')
    with pytest.raises(PyODKError) as raised:
        pyodk_client.forms.update("simple", definition=other)
    assert raised.value.args[1].json()["code"] == 400.8
    assert [f.xmlFormId for f in pyodk_client.forms.list()] == ["simple"]
    # Without a definition pyodk asks for a new version by name: there are no drafts to
    # re-version here, and the refusal says so instead of pretending.
    with pytest.raises(PyODKError) as raised:
        pyodk_client.forms.update(
            "simple", attachments=[], version_updater=lambda version: version + "-b"
        )
    body = raised.value.args[1].json()
    assert body["code"] == 400.8
    assert body["details"]["fieldsyncCode"] == "central.draft_version"
    assert pyodk_client.forms.get("simple").version == "1"


def test_create_app_users_gives_device_tokens_collect_can_use(
    central: Central, pyodk_client: Client
) -> None:
    users = list(
        pyodk_client.projects.create_app_users(
            display_names=["Team 1 tablet", "Team 2 tablet"], forms=["simple"]
        )
    )
    assert [(u.displayName, u.projectId, u.type) for u in users] == [
        ("Team 1 tablet", central.project.id, "field_key"),
        ("Team 2 tablet", central.project.id, "field_key"),
    ]
    token = users[0].token
    assert token
    listing = requests.get(
        f"{central.url}/key/{token}/projects/{central.project.id}/formList",
        headers={"X-OpenRosa-Version": "1.0"},
        timeout=10,
    )
    assert listing.status_code == 200
    assert "<formID>simple</formID>" in listing.text
    # The token is shown once: only its hash is stored.
    listed = pyodk_client.get(f"projects/{central.project.id}/app-users").json()
    assert [(a["displayName"], a["token"]) for a in listed] == [
        ("Team 1 tablet", None),
        ("Team 2 tablet", None),
    ]
    revoked = pyodk_client.delete(f"projects/{central.project.id}/app-users/{users[1].id}")
    assert revoked.json() == {"success": True}
    assert [
        a["id"] for a in pyodk_client.get(f"projects/{central.project.id}/app-users").json()
    ] == [users[0].id]
    refused = pyodk_client.post(
        f"projects/{central.project.id}/forms/simple/assignments/5/{users[0].id}"
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == 400.8
