"""The OpenRosa surface as a device sees it: headers, form list, downloads, manifest, media."""

from __future__ import annotations

import gzip

from flask.testing import FlaskClient
from lxml import etree

from server.projects.models import Project
from tests.factories import Device, Factories
from tests.openrosa.helpers import (
    FIXTURES,
    OPENROSA,
    md5,
    publish_fixture,
    set_form_state,
    upload_media,
)

XFORMS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
OR_RESPONSE = "{http://openrosa.org/http/response}"


def form_list(client: FlaskClient, device: Device, query: str = "") -> dict[str, dict[str, str]]:
    response = client.get(f"{device.base_path}/formList{query}", headers=OPENROSA)
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    assert root.tag == f"{XFORMS}xforms"
    return {
        x.findtext(f"{XFORMS}formID"): {etree.QName(c).localname: c.text or "" for c in x}
        for x in root
    }


def test_requests_without_openrosa_version_are_refused_with_a_message(
    client: FlaskClient, device: Device, simple_form: None
) -> None:
    response = client.get(f"{device.base_path}/formList")
    assert response.status_code == 400
    root = etree.fromstring(response.data)
    assert root.tag == f"{OR_RESPONSE}OpenRosaResponse"
    assert "X-OpenRosa-Version" in root.findtext(f"{OR_RESPONSE}message")
    assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_every_response_carries_openrosa_version_and_date(
    client: FlaskClient, device: Device, simple_form: None
) -> None:
    for path in ("/formList", "/forms/simple.xml", "/forms/nope.xml", "/submission"):
        response = client.get(device.base_path + path, headers=OPENROSA)
        assert response.headers["X-OpenRosa-Version"] == "1.0", path
        assert response.headers["Date"].endswith("GMT"), path


def test_form_list_names_each_open_form_with_its_hash_and_urls(
    client: FlaskClient, device: Device, simple_form: None, photos_form: None
) -> None:
    forms = form_list(client, device)
    assert set(forms) == {"simple", "site_photos"}
    simple = forms["simple"]
    assert simple["name"] == "Simple test form"
    assert simple["version"] == "1"
    assert simple["downloadUrl"] == f"http://localhost{device.base_path}/forms/simple.xml"
    assert "manifestUrl" not in simple  # the form has no media
    download = client.get(device.base_path + "/forms/simple.xml", headers=OPENROSA)
    assert download.status_code == 200
    assert simple["hash"] == f"md5:{md5(download.data)}"
    assert download.data == (FIXTURES / "simple_form.xml").read_bytes()


def test_form_list_filters_by_form_id(
    client: FlaskClient, device: Device, simple_form: None, photos_form: None
) -> None:
    assert set(form_list(client, device, "?formID=site_photos")) == {"site_photos"}
    assert form_list(client, device, "?formID=unknown") == {}


def test_closing_and_closed_forms_are_left_out_of_the_form_list(
    client: FlaskClient,
    factories: Factories,
    project: Project,
    device: Device,
    simple_form: None,
    photos_form: None,
) -> None:
    set_form_state(factories, project.id, "simple", "closing")
    assert set(form_list(client, device)) == {"site_photos"}
    set_form_state(factories, project.id, "site_photos", "closed")
    assert form_list(client, device) == {}
    # A closing form can still be fetched by a device that has it; a closed one cannot.
    assert client.get(device.base_path + "/forms/simple.xml", headers=OPENROSA).status_code == 200
    closed = client.get(device.base_path + "/forms/site_photos.xml", headers=OPENROSA)
    assert closed.status_code == 409


def test_a_viewer_sees_no_forms_to_fill(
    client: FlaskClient, factories: Factories, project: Project, simple_form: None
) -> None:
    import base64

    viewer = factories.user(project, "viewer")
    basic = base64.b64encode(f"{viewer.email}:correct horse battery".encode()).decode()
    headers = {**OPENROSA, "Authorization": f"Basic {basic}"}
    response = client.get(f"/v1/projects/{project.id}/formList", headers=headers)
    assert response.status_code == 200
    assert etree.fromstring(response.data).findall(f"{XFORMS}xform") == []
    download = client.get(f"/v1/projects/{project.id}/forms/simple.xml", headers=headers)
    assert download.status_code == 403


def test_form_download_honours_gzip_and_etag(
    client: FlaskClient, device: Device, photos_form: None
) -> None:
    path = device.base_path + "/forms/site_photos.xml"
    plain = client.get(path, headers=OPENROSA)
    assert "Content-Encoding" not in plain.headers
    zipped = client.get(path, headers={**OPENROSA, "Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data)
    etag = plain.headers["ETag"]
    assert etag == f'"{md5(plain.data)}"'
    again = client.get(path, headers={**OPENROSA, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_unknown_form_downloads_are_404_with_a_message(
    client: FlaskClient, device: Device, simple_form: None
) -> None:
    for path in ("/forms/nope.xml", "/forms/nope/manifest", "/forms/simple/attachments/x.csv"):
        response = client.get(device.base_path + path, headers=OPENROSA)
        assert response.status_code == 404, path
        assert etree.fromstring(response.data).findtext(f"{OR_RESPONSE}message")


def test_manifest_lists_uploaded_media_with_md5_and_serves_it_gzipped(
    client: FlaskClient,
    factories: Factories,
    project: Project,
    device: Device,
) -> None:
    publish_fixture(factories, project, "hazard_registration")
    publish_fixture(factories, project, "hazard_visit")
    forms = form_list(client, device)
    manifest_url = forms["hazard_visit"]["manifestUrl"]
    assert manifest_url == f"http://localhost{device.base_path}/forms/hazard_visit/manifest"
    assert "manifestUrl" not in forms["hazard_registration"]

    def media() -> dict[str, tuple[str, str, str | None]]:
        response = client.get(manifest_url, headers=OPENROSA)
        assert response.status_code == 200
        root = etree.fromstring(response.data)
        return {
            m.findtext(f"{MANIFEST}filename"): (
                m.findtext(f"{MANIFEST}hash"),
                m.findtext(f"{MANIFEST}downloadUrl"),
                m.get("type"),
            )
            for m in root.iter(f"{MANIFEST}mediaFile")
        }

    # villages.csv is declared but not uploaded yet: devices are not sent to fetch it.
    assert set(media()) == {"hazard_areas.csv"}
    villages = b"name,label\n" + b"".join(b"v%d,Village %d\n" % (i, i) for i in range(200))
    upload_media(factories, project.id, "hazard_visit", "villages.csv", villages)
    listed = media()
    assert listed["villages.csv"][0] == f"md5:{md5(villages)}"
    assert listed["villages.csv"][2] is None
    assert listed["hazard_areas.csv"][2] == "entityList"

    url = listed["villages.csv"][1]
    plain = client.get(url, headers=OPENROSA)
    assert plain.status_code == 200
    assert plain.data == villages
    zipped = client.get(url, headers={**OPENROSA, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == villages
    cached = client.get(url, headers={**OPENROSA, "If-None-Match": plain.headers["ETag"]})
    assert cached.status_code == 304


def test_head_and_get_submission_answer_204_with_the_size_limit(
    client: FlaskClient, device: Device, app: object
) -> None:
    for method in (client.head, client.get):
        response = method(device.base_path + "/submission", headers=OPENROSA)
        assert response.status_code == 204
        assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(20 * 1024 * 1024)
        assert response.headers["X-OpenRosa-Version"] == "1.0"
