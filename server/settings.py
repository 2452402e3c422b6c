"""Server settings, read from the environment into one typed object.

Everything the server needs to know about its surroundings lives here, so the rest of the code
never touches ``os.environ``. Reading fails fast, with one clear message, on what is missing or
malformed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.files import PRIVATE_FILE, private_dir, tighten

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_FORMS_DIR = PROJECT_ROOT / "forms"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"

ENVIRONMENTS = ("development", "production", "test")
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Where blob contents (attachments, form media, form sources) live: files under the data
# directory, or the database (with the data directory as this host's cache), so several server
# hosts share them and a database backup carries them (docs/adr/0022-blobs-in-the-database.md).
BLOB_STORES = ("file", "database")


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """The server's configuration. Build it with :meth:`from_env` or directly in tests."""

    data_dir: Path
    database_url: str
    secret_key: str
    environment: str = "development"
    # Public base URL used in links handed to devices (formList downloadUrl, app-user URLs).
    # When unset, links are built from the request's own host.
    public_url: str | None = None
    max_upload_bytes: int = 100 * 1024 * 1024
    max_form_bytes: int = 10 * 1024 * 1024
    # The bytes one user may have in unfinished resumable uploads at once (0: no limit).
    upload_quota_bytes: int = 1024 * 1024 * 1024
    session_ttl_seconds: int = 14 * 24 * 3600
    log_level: str = "INFO"
    log_json: bool = True
    # Offline entity updates whose predecessor has not arrived are force-applied after this delay.
    entity_backlog_force_after_seconds: int = 5 * 24 * 3600
    # Per-property merge policies of entity lists, readable by an information-management officer.
    entity_policies_path: Path = BUNDLED_FORMS_DIR / "entity_policies.toml"
    # This server is a field hub (the coordinator's laptop): it applies its tablets' entity
    # updates provisionally and records them in the centre's terms (docs/adr/0006-field-hub.md).
    hub: bool = False
    # How many reverse proxies (TLS terminators) stand in front of the server and append to
    # X-Forwarded-For; 0 trusts no such header. The login throttle counts per client address,
    # so behind a proxy this must be set or every client shares the proxy's address.
    proxy_hops: int = 0
    # The web UI's maps draw the gazetteer and the records offline; with a tile URL (e.g.
    # ``https://tile.example.org/{z}/{x}/{y}.png``) they also show online tiles under them.
    ui_tile_url: str | None = None
    # "file" (the default) or "database": see BLOB_STORES.
    blob_store: str = "file"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def upload_tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def database_backend(self) -> str:
        return make_url(self.database_url).get_backend_name()

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        """Read settings from the environment.

        Raises:
            SettingsError: a value is missing (``SECRET_KEY`` in production) or malformed.
        """
        env = dict(os.environ if environ is None else environ)
        environment = env.get("FIELDSYNC_ENV", "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise SettingsError(
                f"FIELDSYNC_ENV={environment!r} is not one of {', '.join(ENVIRONMENTS)}"
            )
        data_dir = Path(env.get("FIELDSYNC_DATA_DIR", "./instance")).expanduser().resolve()
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            database_url = f"sqlite:///{data_dir / 'fieldsync.sqlite3'}"
        database_url = normalise_database_url(database_url)

        secret_key = env.get("SECRET_KEY", "").strip()
        if not secret_key:
            if environment == "production":
                raise SettingsError(
                    "SECRET_KEY must be set in production (FIELDSYNC_ENV=production); "
                    "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
                )
            secret_key = load_or_create_secret(data_dir)

        blob_store = (env.get("FIELDSYNC_BLOB_STORE") or "file").strip().lower()
        if blob_store not in BLOB_STORES:
            raise SettingsError(
                f"FIELDSYNC_BLOB_STORE={blob_store!r} is not one of {', '.join(BLOB_STORES)}"
            )

        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            environment=environment,
            public_url=(env.get("FIELDSYNC_PUBLIC_URL") or "").rstrip("/") or None,
            max_upload_bytes=_int(env, "FIELDSYNC_MAX_UPLOAD_BYTES", 100 * 1024 * 1024),
            max_form_bytes=_int(env, "FIELDSYNC_MAX_FORM_BYTES", 10 * 1024 * 1024),
            upload_quota_bytes=_int(env, "FIELDSYNC_UPLOAD_QUOTA_BYTES", 1024 * 1024 * 1024),
            session_ttl_seconds=_int(env, "FIELDSYNC_SESSION_TTL_SECONDS", 14 * 24 * 3600),
            log_level=env.get("FIELDSYNC_LOG_LEVEL", "INFO").upper(),
            log_json=env.get("FIELDSYNC_LOG_FORMAT", "json").lower() != "text",
            entity_backlog_force_after_seconds=_int(
                env, "FIELDSYNC_BACKLOG_FORCE_AFTER_SECONDS", 5 * 24 * 3600
            ),
            proxy_hops=_int(env, "FIELDSYNC_PROXY_HOPS", 0),
            ui_tile_url=(env.get("FIELDSYNC_TILE_URL") or "").strip() or None,
            blob_store=blob_store,
            entity_policies_path=Path(
                env.get("FIELDSYNC_ENTITY_POLICIES") or BUNDLED_FORMS_DIR / "entity_policies.toml"
            ),
        )


def normalise_database_url(url: str) -> str:
    """Check a database URL and pick the psycopg 3 driver for plain ``postgresql://`` URLs.

    Raises:
        SettingsError: the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SettingsError(
            f"DATABASE_URL is malformed ({exc}); expected e.g. "
            "postgresql://user@host:5432/fieldsync or sqlite:////path/to/file.sqlite3"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED_BACKENDS:
        raise SettingsError(
            f"DATABASE_URL names the database {backend!r}; fieldsync runs on "
            "PostgreSQL (production) or SQLite (embedded)"
        )
    if backend == "postgresql" and "+" not in parsed.drivername:
        # Plain postgresql:// would pick whichever driver SQLAlchemy prefers; fieldsync ships
        # psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def load_or_create_secret(data_dir: Path) -> str:
    """Return the embedded default's secret key, generating it once into the data directory."""
    private_dir(data_dir)
    path = data_dir / "secret_key"
    if path.exists():
        tighten(path)
        return path.read_text().strip()
    key = secrets.token_hex(32)
    # Create with owner-only permissions; on Windows the mode is ignored, which is acceptable
    # for the embedded default on a laptop.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return value
