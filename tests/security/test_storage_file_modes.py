"""The data directory is owner-only: 0700, and every file in it 0600 (the SQLite file and its
-wal/-shm, blobs, partial uploads, the generated secret, serving.json), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from server import create_app
from server.accounts.models import Role
from server.migrate import upgrade
from server.public_url import record_serving_address
from server.settings import Settings, load_or_create_secret
from server.sync.models import partial_name
from tests.conftest import empty_database
from tests.factories import Factories
from tests.sync.conftest import SyncApi, sha256_hex


@pytest.fixture
def loose_umask() -> Iterator[None]:
    # The attack needs the usual umask: with 022 an unprotected file would come out 0644.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def own_app(tmp_path: Path, loose_umask: None) -> Iterator[Flask]:
    """A server on its own SQLite file inside its data directory, as the embedded default."""
    data_dir = tmp_path / "instance"
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'fieldsync.sqlite3'}",
        secret_key=load_or_create_secret(data_dir),
        environment="test",
        log_level="WARNING",
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    upgrade(app.extensions["fieldsync"].engine)
    empty_database(app)
    yield app
    app.extensions["fieldsync"].engine.dispose()


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_every_file_and_directory_in_the_data_dir_is_owner_only(own_app: Flask) -> None:
    factories = Factories(own_app)
    project = factories.project()
    api = SyncApi(own_app.test_client(), factories.logged_in(project, Role.COORDINATOR), project.id)
    complete = b"a photo of the hazard area"
    api.upload(complete)
    partial = os.urandom(1000)
    assert api.patch(sha256_hex(partial), partial[:400], 0, len(partial)).status_code == 204
    data_dir = own_app.extensions["fieldsync"].settings.data_dir
    record_serving_address(data_dir, "0.0.0.0", 5000)  # noqa: S104

    modes = _modes(data_dir)
    for name in (
        "fieldsync.sqlite3",
        "fieldsync.sqlite3-wal",
        "fieldsync.sqlite3-shm",
        "secret_key",
        "serving.json",
        f"uploads/{partial_name(project.id, api.who.user.id, sha256_hex(partial))}",
    ):
        assert modes.get(name) == 0o600, (name, modes.get(name))
    blob = own_app.extensions["fieldsync"].blobs.path(sha256_hex(complete))
    assert modes[str(blob.relative_to(data_dir))] == 0o600
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode & 0o077 or (mode & 0o700) not in (0o600, 0o700)
    }
    assert loose == {}
    assert modes["."] == 0o700


def test_an_existing_loose_data_dir_is_tightened_when_the_server_opens(
    tmp_path: Path, loose_umask: None
) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    database = data_dir / "fieldsync.sqlite3"
    database.touch(mode=0o644)
    (data_dir / "secret_key").write_text("an old secret")
    os.chmod(data_dir / "secret_key", 0o644)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{database}",
        secret_key=load_or_create_secret(data_dir),
        environment="test",
        log_level="WARNING",
    )
    app = create_app(settings)
    app.extensions["fieldsync"].engine.dispose()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600
