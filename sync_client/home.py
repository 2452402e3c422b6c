"""Where the client keeps its files, and the config file holding the server URL and login token.

The directory is ``FIELDSYNC_HOME`` or a per-user default. The config file is written so that only
its owner can read it: mode 0600 on POSIX; on Windows the per-user profile directory's ACL does
that job, and no POSIX-only call is made there.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sync_client.errors import StoreError, UsageError

APP_NAME = "fieldsync"
CONFIG_NAME = "config.json"


def default_home(
    platform: str | None = None,
    environ: dict[str, str] | None = None,
    user_home: Path | None = None,
) -> Path:
    """The per-user data directory for ``platform`` (``sys.platform`` by default)."""
    platform = platform or sys.platform
    env = dict(os.environ) if environ is None else environ
    home = user_home or Path.home()
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / APP_NAME
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    xdg = env.get("XDG_DATA_HOME", "").strip()
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / APP_NAME
    return home / ".local" / "share" / APP_NAME


def fieldsync_home(environ: dict[str, str] | None = None) -> Path:
    """``FIELDSYNC_HOME`` if set, else :func:`default_home`."""
    env = dict(os.environ) if environ is None else environ
    configured = env.get("FIELDSYNC_HOME", "").strip()
    if configured:
        return Path(configured).expanduser()
    return default_home(environ=env)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by its owner only where the OS lets us say so.

    Raises:
        StoreError: the directory cannot be created.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        _restrict(path, 0o700)
    except OSError as exc:
        raise StoreError(f"cannot create the data directory {path}: {exc.strerror or exc}") from exc
    return path


def _restrict(path: Path, mode: int) -> None:
    # Windows ignores POSIX modes (beyond read-only); the profile directory's ACL protects files.
    if os.name == "posix":
        os.chmod(path, mode)


@dataclass
class Config:
    """What ``fieldsync login`` stores."""

    server_url: str = ""
    token: str = ""
    email: str = ""
    project_id: int | None = None
    project_name: str = ""
    # Names this laptop in the provenance of what it forwards ("via" hops).
    hub_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")

    @property
    def logged_in(self) -> bool:
        return bool(self.server_url and self.token)

    def require_login(self) -> Config:
        """Raises: UsageError when no server or token is configured."""
        if not self.logged_in:
            raise UsageError("not logged in: run `fieldsync login URL` first")
        if self.project_id is None:
            raise UsageError("no project chosen: run `fieldsync login URL --project ID`")
        return self


def config_path(home: Path) -> Path:
    return home / CONFIG_NAME


def load_config(home: Path) -> Config:
    """The stored config, or an empty one when there is none.

    Raises:
        StoreError: the file exists but cannot be read or is not a config.
    """
    path = config_path(home)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data: Any = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        known = {k: v for k, v in data.items() if k in Config.__dataclass_fields__}
        return Config(**known)
    except (ValueError, TypeError) as exc:
        raise StoreError(
            f"the config file {path} is damaged ({exc}); delete it and run `fieldsync login` again"
        ) from exc


def save_config(home: Path, config: Config) -> Path:
    """Write the config atomically, readable by its owner only.

    Raises:
        StoreError: the file cannot be written (disk full, permissions).
    """
    ensure_private_dir(home)
    path = config_path(home)
    tmp = path.with_name(f".{CONFIG_NAME}.{uuid.uuid4().hex}.tmp")
    data = json.dumps(asdict(config), indent=2).encode("utf-8")
    try:
        # Created with the restrictive mode from the start, so the token is never readable by
        # others, not even for the instant between create and chmod.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _restrict(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
