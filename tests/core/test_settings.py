"""Settings come from the environment, fail fast, and never fall back to an insecure secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError


def test_embedded_default_is_sqlite_in_data_dir_with_generated_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"FIELDSYNC_DATA_DIR": str(tmp_path)})
    assert settings.database_backend == "sqlite"
    assert settings.database_url.endswith(str(tmp_path / "fieldsync.sqlite3"))
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text() == settings.secret_key
    assert len(settings.secret_key) >= 32
    assert secret_file.stat().st_mode & 0o077 == 0
    # The same secret is read back next time, not regenerated.
    assert (
        Settings.from_env({"FIELDSYNC_DATA_DIR": str(tmp_path)}).secret_key == settings.secret_key
    )


def test_production_requires_secret_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings.from_env({"FIELDSYNC_ENV": "production", "FIELDSYNC_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secret_key").exists()


def test_postgres_url_gets_psycopg_driver(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FIELDSYNC_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://fs:pw@db.example:5432/fieldsync",
        }
    )
    assert settings.database_url.startswith("postgresql+psycopg://fs:pw@db.example:5432/")
    assert settings.database_backend == "postgresql"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "DATABASE_URL is malformed"),
        ("mysql://root@localhost/x", "fieldsync runs on PostgreSQL"),
    ],
)
def test_bad_database_url_is_one_clear_error(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"FIELDSYNC_DATA_DIR": str(tmp_path), "DATABASE_URL": url})


def test_malformed_numbers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FIELDSYNC_MAX_UPLOAD_BYTES"):
        Settings.from_env(
            {"FIELDSYNC_DATA_DIR": str(tmp_path), "FIELDSYNC_MAX_UPLOAD_BYTES": "lots"}
        )
    with pytest.raises(SettingsError, match="FIELDSYNC_ENV"):
        Settings.from_env({"FIELDSYNC_DATA_DIR": str(tmp_path), "FIELDSYNC_ENV": "staging"})
