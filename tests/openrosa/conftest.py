"""Fixtures for the OpenRosa tests: a project with the test forms and a device (app user)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from server.projects.models import Project
from tests.conftest import LiveServer, free_port
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


class _LiveServer(LiveServer):
    """``tests.conftest.LiveServer`` without the ``_quiet`` option, which waitress's
    ``create_server`` refuses (only ``waitress.serve`` accepts it), and with a clean stop."""

    def __init__(self, app: Flask) -> None:
        from waitress.server import create_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = create_server(
            app, host="127.0.0.1", port=self.port, threads=8, asyncore_loop_timeout=0.1
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the listening socket under the poll loop ends it this way.
            if not self._stopping.is_set():
                raise

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        # Keep-alive connections keep waitress's loop running; close them too.
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.task_dispatcher.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = _LiveServer(app).start()
    yield server
    server.stop()
