"""Fixtures for the sync API: a project with the simple form, a coordinator's laptop login,
and helpers that speak the protocol the way the sync client does."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from server.accounts.models import Role
from server.projects.models import Project
from tests.factories import Factories, LoggedIn

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def instance_xml(
    instance_id: str,
    name: str = "Amina",
    photo: str = "",
    *,
    form_id: str = "simple",
    version: str = "1",
    deprecated_id: str = "",
) -> str:
    deprecated = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (
        f'<data id="{form_id}" version="{version}"><name>{name}</name><photo>{photo}</photo>'
        f"<meta><instanceID>{instance_id}</instanceID>{deprecated}</meta></data>"
    )


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class SyncApi:
    """The sync routes as a client would call them."""

    client: FlaskClient
    who: LoggedIn
    project_id: int

    def headers(self, **extra: str) -> dict[str, str]:
        return {**self.who.headers, **extra}

    def push(
        self,
        body: dict[str, Any],
        key: str | None = None,
        *,
        gzipped: bool = True,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        raw = json.dumps(body).encode()
        extra = {"Content-Type": "application/json"}
        if gzipped:
            raw = gzip.compress(raw)
            extra["Content-Encoding"] = "gzip"
        if key is not None:
            extra["Idempotency-Key"] = key
        extra.update(headers or {})
        return self.client.post("/api/v1/sync/push", data=raw, headers=self.headers(**extra))

    def missing(self, hashes: list[str]) -> TestResponse:
        return self.client.post(
            "/api/v1/sync/blobs/missing",
            json={"project_id": self.project_id, "sha256": hashes},
            headers=self.headers(),
        )

    def head(self, sha: str) -> TestResponse:
        return self.client.head(self.blob_path(sha), headers=self.headers())

    def blob_path(self, sha: str) -> str:
        return f"/api/v1/sync/blobs/{sha}?project_id={self.project_id}"

    def patch(
        self,
        sha: str,
        chunk: bytes,
        offset: int,
        length: int,
        checksum: str | None = None,
    ) -> TestResponse:
        headers = self.headers(
            **{
                "Upload-Offset": str(offset),
                "Upload-Length": str(length),
                "Upload-Checksum": checksum or chunk_checksum(chunk),
                "Content-Type": "application/offset+octet-stream",
            }
        )
        return self.client.patch(self.blob_path(sha), data=chunk, headers=headers)

    def upload(self, data: bytes) -> str:
        sha = sha256_hex(data)
        response = self.patch(sha, data, 0, len(data))
        assert response.status_code == 204, response.get_data(as_text=True)
        return sha

    def changes(
        self,
        project_id: int,
        cursor: str | None = None,
        limit: int | None = None,
        *,
        settle: bool = True,
        **headers: str,
    ) -> TestResponse:
        if settle:
            wait_for_horizon(self.client.application.extensions["fieldsync"].engine)
        query: dict[str, Any] = {"project_id": project_id}
        if cursor is not None:
            query["cursor"] = cursor
        if limit is not None:
            query["limit"] = limit
        return self.client.get(
            "/api/v1/sync/changes", query_string=query, headers=self.headers(**headers)
        )


def wait_for_horizon(engine: Engine, timeout: float = 60) -> None:
    """On PostgreSQL, wait until every committed feed row is below the visibility horizon.

    The horizon is cluster-wide: a transaction running in another database of the same server
    (another test run, a benchmark) holds recent rows back until it ends. Rows are delayed,
    never lost; waiting here keeps tests that expect "everything committed so far" exact.
    """
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        target = conn.scalar(text("SELECT max(xid) FROM sync_changes"))
        if target is None:
            return
        horizon = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
        while int(conn.scalar(text(horizon))) <= target and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.02)


@pytest.fixture
def project(factories: Factories) -> Project:
    project = factories.project()
    factories.publish(project, FIXTURES / "simple_form.xml")
    return project


@pytest.fixture
def coordinator(factories: Factories, project: Project) -> LoggedIn:
    return factories.logged_in(project, Role.COORDINATOR)


@pytest.fixture
def api(client: FlaskClient, coordinator: LoggedIn, project: Project) -> SyncApi:
    return SyncApi(client, coordinator, project.id)
