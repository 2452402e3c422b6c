"""Fixtures for the attack tests: a project with the simple form, the app served over HTTP, and
a second server process on the same database (state shared through the database is checked
across both)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from server import create_app
from server.projects.models import Project
from server.settings import Settings
from tests.conftest import LiveServer
from tests.factories import Factories
from tests.openrosa.helpers import publish_fixture


@pytest.fixture
def project(factories: Factories) -> Project:
    return factories.project()


@pytest.fixture
def simple_form(factories: Factories, project: Project) -> None:
    publish_fixture(factories, project, "simple_form")


@pytest.fixture
def second_server(app: Flask, settings: Settings) -> Iterator[LiveServer]:
    """Another app on the same database, with its own engine and pool: another process."""
    other = create_app(settings)
    server = LiveServer(other).start()
    yield server
    server.stop()
    other.extensions["fieldsync"].engine.dispose()
