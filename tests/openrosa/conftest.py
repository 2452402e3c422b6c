"""Fixtures for the OpenRosa tests: a project with the test forms and a device (app user)."""

from __future__ import annotations

import pytest

from server.projects.models import Project
from tests.factories import Device, Factories
from tests.openrosa.helpers import publish_fixture


@pytest.fixture
def project(factories: Factories) -> Project:
    return factories.project()


@pytest.fixture
def device(factories: Factories, project: Project) -> Device:
    return factories.device(project)


@pytest.fixture
def simple_form(factories: Factories, project: Project) -> None:
    publish_fixture(factories, project, "simple_form")


@pytest.fixture
def photos_form(factories: Factories, project: Project) -> None:
    publish_fixture(factories, project, "photos_form")
