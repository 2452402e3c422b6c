"""Helpers for driving the OpenRosa routes the way ODK Collect does: instance XML, multipart
bodies, Digest answers and direct database counts."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from flask import Flask
from sqlalchemy import func, select

from server.forms import service as forms
from server.forms.models import FormState
from server.forms.service import PublishResult
from tests.factories import Factories

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OPENROSA = {"X-OpenRosa-Version": "1.0"}
# A small JPEG-looking payload; the server never decodes images.
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


def publish_fixture(factories: Factories, project: Any, name: str) -> PublishResult:
    return factories.publish_bytes(project, f"{name}.xml", (FIXTURES / f"{name}.xml").read_bytes())


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def instance_xml(
    form_id: str,
    version: str,
    instance_id: str,
    *,
    deprecated_id: str | None = None,
    **fields: str,
) -> bytes:
    """A filled-in instance as Collect writes it: root ``data`` with the form's id and version."""
    body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    meta = f"<instanceID>{instance_id}</instanceID>"
    if deprecated_id:
        meta += f"<deprecatedID>{deprecated_id}</deprecatedID>"
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" id="{form_id}" '
        f'version="{version}">{body}<meta>{meta}</meta></data>'
    ).encode()


def simple_xml(instance_id: str, name: str = "Site A", photo: str = "", **kw: Any) -> bytes:
    return instance_xml("simple", "1", instance_id, name=name, photo=photo, **kw)


def photos_xml(instance_id: str, note: str = "three photos", **kw: Any) -> bytes:
    return instance_xml(
        "site_photos",
        "1",
        instance_id,
        note_text=note,
        photo_1="p1.jpg",
        photo_2="p2.jpg",
        photo_3="p3.jpg",
        **kw,
    )


def form_data(
    xml: bytes, files: dict[str, bytes] | None = None, incomplete: bool = False
) -> dict[str, Any]:
    """Flask test-client ``data`` for a multipart submission."""
    data: dict[str, Any] = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
    for name, content in (files or {}).items():
        data[name] = (io.BytesIO(content), name, "image/jpeg")
    if incomplete:
        data["*isIncomplete*"] = "yes"
    return data


def requests_files(
    xml: bytes, files: dict[str, bytes] | None = None
) -> list[tuple[str, tuple[str, bytes, str]]]:
    """``files=`` for requests, in the order Collect sends parts."""
    parts = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    parts += [(name, (name, content, "image/jpeg")) for name, content in (files or {}).items()]
    return parts


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["fieldsync"].session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def set_form_state(factories: Factories, project_id: int, form_id: str, state: str) -> None:
    with factories.session() as session, session.begin():
        forms.set_state(
            session, forms.get_form(session, project_id, form_id), FormState(state), None
        )


def upload_media(
    factories: Factories, project_id: int, form_id: str, name: str, data: bytes
) -> None:
    with factories.session() as session, session.begin():
        forms.attach_media(
            session,
            factories.runtime.blobs,
            forms.get_form(session, project_id, form_id),
            name,
            data,
            None,
        )


def digest_authorization(
    challenge: str,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: str = "00000001",
    cnonce: str = "0a4f113b",
) -> str:
    """The ``Authorization`` value a Digest client (qop=auth, MD5) sends for a challenge."""
    params = _challenge_params(challenge)
    realm, nonce = params["realm"], params["nonce"]

    def h(text: str) -> str:
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", '
        f'opaque="{params.get("opaque", "")}", algorithm=MD5'
    )


def _challenge_params(challenge: str) -> dict[str, str]:
    from werkzeug.http import parse_dict_header

    scheme, _, rest = challenge.partition(" ")
    assert scheme.lower() == "digest"
    return {k: v or "" for k, v in parse_dict_header(rest).items()}
