"""A project as a coordinator finds it in the morning, for the web UI's tests: the form library
published, hazard areas reported by two tablets over OpenRosa (with a photo, a benchmark and a
perimeter), a hard conflict between the two, and a viewer, a coordinator and an administrator."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask
from lxml import etree

from server.accounts.models import Role
from server.db import transaction
from server.gazetteer import service as gazetteer
from server.projects.models import Project
from tests.conftest import LiveServer
from tests.entities.builders import Filled
from tests.entities.conftest import Field
from tests.entities.conftest import field as field
from tests.entities.test_entity_service import AREA, new_area, survey_update
from tests.factories import DEFAULT_PASSWORD, Device

OPENROSA = {"X-OpenRosa-Version": "1.0"}
BENCHMARK = "19.4567 103.1934 1100 4"
PERIMETER = "19.45 103.19 0 0;19.46 103.19 0 0;19.46 103.20 0 0;19.45 103.20 0 0;19.45 103.19 0 0"


def tiny_png() -> bytes:
    """A 2x2 red PNG (a photo the browser can draw)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def with_photo(filled: Filled, photo: str) -> bytes:
    """The filled form with ``location/benchmark_photo`` naming a file sent with it."""
    root = etree.fromstring(filled.xml())
    location = root.find("location")
    assert location is not None, "the hazard report's location group is missing"
    etree.SubElement(location, "benchmark_photo").text = photo
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@dataclass
class People:
    viewer: str
    coordinator: str
    admin: str
    password: str = DEFAULT_PASSWORD


@dataclass
class Scene:
    server: LiveServer
    server_app: Flask
    field: Field
    project: Project
    people: People
    tablets: tuple[Device, Device]
    area: str  # the hazard area's uuid
    first_report: str  # instanceID of the report that created it

    @property
    def ui(self) -> str:
        return f"{self.server.url}/ui/projects/{self.project.id}"

    def submit(self, device: Device, xml: bytes, files: dict[str, bytes] | None = None) -> None:
        base = f"{self.server.url}{device.base_path}"
        parts = {"xml_submission_file": ("submission.xml", xml, "text/xml")}
        for name, data in (files or {}).items():
            parts[name] = (name, data, "image/png")  # type: ignore[assignment]
        response = requests.post(f"{base}/submission", files=parts, headers=OPENROSA, timeout=30)
        assert response.status_code == 201, response.text


@pytest.fixture
def scene(field: Field, live_server: LiveServer, app: Flask) -> Iterator[Scene]:
    factories = field.factories
    people = People(
        viewer=factories.user(field.project, Role.VIEWER, email="viewer@example.org").email,
        coordinator=factories.user(
            field.project, Role.COORDINATOR, email="coordinator@example.org"
        ).email,
        admin=factories.user(email="admin@example.org", site_admin=True).email,
    )
    with transaction(factories.runtime.session_factory) as session:
        project = session.get(Project, field.project.id)
        assert project is not None
        gazetteer.publish(session, factories.runtime.blobs, project)
    tablets = (
        factories.device(field.project, "Team 1 tablet"),
        factories.device(field.project, "Team 2 tablet"),
    )
    area = str(uuid.uuid4())
    created = new_area(field, area, benchmark=BENCHMARK, perimeter=PERIMETER, admin1_pcode="LA09")
    scene = Scene(
        live_server, app, field, field.project, people, tablets, area, created.instance_id
    )
    scene.submit(tablets[0], with_photo(created, "benchmark.png"), {"benchmark.png": tiny_png()})
    other = new_area(field, str(uuid.uuid4()), ha_code="HA-0200", admin_area="Savannakhet")
    other.device_id = "collect:team-2"
    scene.submit(tablets[1], other.xml())
    # Both teams change the priority from the same download: a hard conflict.
    current = {k: v for k, v in AREA.items()}
    scene.submit(tablets[0], survey_update(field, area, 1, **{**current, "priority": "low"}).xml())
    scene.submit(
        tablets[1],
        survey_update(field, area, 1, **{**current, "priority": "medium"}, date="2026-11-09").xml(),
    )
    yield scene


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", io.BytesIO(data).getvalue()[16:24])
    return width, height


def survivor_assessment(scene: Scene, full_name: str, entity_id: str | None = None) -> bytes:
    """A survivor needs assessment naming the survivor (a personal field, ``pii_full_name``),
    with consent to follow-up and to share (so partners see the record, without the name)."""
    filled = scene.field.fill(
        "survivor_needs_assessment",
        entity_id=entity_id or str(uuid.uuid4()),
        create=True,
        label="SV-0001",
        values={
            "survivor_code": "SV-0001",
            "consent_followup": "yes",
            "consent_sharing": "yes",
            "sex": "male",
            "year_of_birth": "1990",
        },
    )
    root = etree.fromstring(filled.xml())
    demographics = root.find("demographics")
    if demographics is None:
        demographics = etree.SubElement(root, "demographics")
    etree.SubElement(demographics, "pii_full_name").text = full_name
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")
