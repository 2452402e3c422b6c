"""Entity lists served to devices as CSV attachments: columns, ETag, 304, gzip, and a manifest
hash that changes exactly when the list does.

Written against the contract, not the current content: they hold while the list only has its
columns and once the entity store fills it with rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import uuid

import pytest
from flask.testing import FlaskClient
from lxml import etree

from server.projects.models import Project
from tests.factories import Device, Factories
from tests.openrosa.helpers import OPENROSA, form_data, new_instance_id, publish_fixture

MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"


@pytest.fixture
def hazard_forms(factories: Factories, project: Project) -> None:
    publish_fixture(factories, project, "hazard_registration")
    publish_fixture(factories, project, "hazard_visit")


def manifest_entry(client: FlaskClient, device: Device) -> tuple[str, str, str | None]:
    response = client.get(device.base_path + "/forms/hazard_visit/manifest", headers=OPENROSA)
    assert response.status_code == 200
    for media in etree.fromstring(response.data).iter(f"{MANIFEST}mediaFile"):
        if media.findtext(f"{MANIFEST}filename") == "hazard_areas.csv":
            hash_text = media.findtext(f"{MANIFEST}hash") or ""
            assert hash_text.startswith("md5:")
            return hash_text[4:], media.findtext(f"{MANIFEST}downloadUrl") or "", media.get("type")
    raise AssertionError("hazard_areas.csv is not in the manifest")


def download(client: FlaskClient, url: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    response = client.get(url, headers={**OPENROSA, **headers})
    return response.status_code, response.data, dict(response.headers)


def test_the_entity_list_is_announced_as_an_entity_list(
    client: FlaskClient, device: Device, hazard_forms: None
) -> None:
    _hash, url, kind = manifest_entry(client, device)
    assert kind == "entityList"
    assert url.endswith(f"{device.base_path}/forms/hazard_visit/attachments/hazard_areas.csv")


def test_the_csv_has_name_label_version_and_the_declared_properties(
    client: FlaskClient, device: Device, hazard_forms: None
) -> None:
    list_hash, url, _ = manifest_entry(client, device)
    status, body, headers = download(client, url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert header[:3] == ["name", "label", "__version"]
    assert {"status", "contamination"} <= set(header[3:])
    # The ETag names the manifest's hash, so a device can ask "has it changed?".
    assert headers["ETag"] == f'"{list_hash}"'


def test_an_unchanged_list_is_answered_304(
    client: FlaskClient, device: Device, hazard_forms: None
) -> None:
    list_hash, url, _ = manifest_entry(client, device)
    status, body, headers = download(client, url, **{"If-None-Match": f'"{list_hash}"'})
    assert status == 304
    assert body == b""
    assert headers["ETag"] == f'"{list_hash}"'
    status, _, _ = download(client, url, **{"If-None-Match": '"something-else"'})
    assert status == 200


def test_the_csv_is_gzipped_when_the_device_accepts_it(
    client: FlaskClient, device: Device, hazard_forms: None
) -> None:
    _hash, url, _ = manifest_entry(client, device)
    _, plain, _ = download(client, url)
    status, zipped, headers = download(client, url, **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped) == plain


def test_the_hash_changes_when_the_list_gains_a_property_and_not_otherwise(
    client: FlaskClient,
    factories: Factories,
    project: Project,
    device: Device,
    hazard_forms: None,
) -> None:
    before, url, _ = manifest_entry(client, device)
    publish_fixture(factories, project, "simple_form")  # unrelated to the list
    assert manifest_entry(client, device)[0] == before

    publish_fixture(factories, project, "hazard_registration_v2")  # adds area_m2
    after, _, _ = manifest_entry(client, device)
    assert after != before
    status, body, headers = download(client, url, **{"If-None-Match": f'"{before}"'})
    assert status == 200
    assert "area_m2" in next(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert headers["ETag"] == f'"{after}"'


def test_the_hash_follows_the_content_after_an_entity_creating_submission(
    client: FlaskClient, device: Device, hazard_forms: None
) -> None:
    before, url, _ = manifest_entry(client, device)
    _, body_before, _ = download(client, url)
    xml = (
        '<data xmlns:jr="http://openrosa.org/javarosa" id="hazard_registration" version="1">'
        "<area_name>Minefield north</area_name><status>suspected</status>"
        "<contamination>AP mine</contamination>"
        f'<meta><entity dataset="hazard_areas" create="1" id="{uuid.uuid4()}">'
        "<label>Minefield north</label></entity>"
        f"<instanceID>{new_instance_id()}</instanceID></meta></data>"
    ).encode()
    response = client.post(device.base_path + "/submission", data=form_data(xml), headers=OPENROSA)
    assert response.status_code == 201
    after, _, _ = manifest_entry(client, device)
    _, body_after, headers = download(client, url)
    assert headers["ETag"] == f'"{after}"'
    # Whatever the entity store makes of the submission, hash and content move together.
    assert (after != before) == (body_after != body_before)
    if body_after != body_before:
        assert "Minefield north" in body_after.decode("utf-8")
