"""A live fieldsync (waitress on a loopback port) and the real pyodk client configured for it,
as a programme's script would be: a config TOML naming the server, a user and a project."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyodk.client import Client

from server.accounts.models import Role, User
from server.projects.models import Project
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.openrosa.helpers import publish_fixture


@dataclass
class Central:
    """The live server, its project, and the coordinator pyodk logs in as."""

    server: LiveServer
    project: Project
    user: User
    tmp: Path

    @property
    def url(self) -> str:
        return f"{self.server.url}/v1"

    def client(self, email: str | None = None, password: str = DEFAULT_PASSWORD) -> Client:
        """A pyodk client with its own config and token cache, not yet logged in."""
        name = (email or self.user.email).replace("@", "_")
        config = self.tmp / f"{name}.toml"
        config.write_text(
            "[central]\n"
            f'base_url = "{self.server.url}"\n'
            f'username = "{email or self.user.email}"\n'
            f'password = "{password}"\n'
            f"default_project_id = {self.project.id}\n",
            encoding="utf-8",
        )
        return Client(config_path=str(config), cache_path=str(self.tmp / f"{name}.cache.toml"))


@pytest.fixture
def central(live_server: LiveServer, factories: Factories, tmp_path: Path) -> Central:
    project = factories.project("Mine action survey")
    user = factories.user(project, Role.COORDINATOR, email="coordinator@example.org")
    publish_fixture(factories, project, "simple_form")
    return Central(server=live_server, project=project, user=user, tmp=tmp_path)


@pytest.fixture
def pyodk_client(central: Central) -> Iterator[Client]:
    with central.client() as client:
        yield client


@pytest.fixture
def admin_client(central: Central, factories: Factories) -> Iterator[Client]:
    """pyodk logged in as the project's administrator, who publishes forms."""
    admin = factories.user(central.project, Role.ADMINISTRATOR, email="admin@example.org")
    with central.client(admin.email) as client:
        yield client
