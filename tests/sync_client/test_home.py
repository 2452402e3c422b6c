"""Where the client keeps its files, and the config file only its owner may read."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sync_client.errors import StoreError, UsageError
from sync_client.home import Config, default_home, fieldsync_home, load_config, save_config


def test_default_home_per_platform(tmp_path: Path) -> None:
    user = tmp_path / "user"
    assert (
        default_home("win32", {"APPDATA": r"C:\Users\amina\AppData\Roaming"}, user)
        == Path(r"C:\Users\amina\AppData\Roaming") / "fieldsync"
    )
    assert default_home("win32", {}, user) == user / "AppData" / "Roaming" / "fieldsync"
    assert default_home("darwin", {}, user) == user / "Library/Application Support/fieldsync"
    assert default_home("linux", {"XDG_DATA_HOME": "/data/xdg"}, user) == Path(
        "/data/xdg/fieldsync"
    )
    assert default_home("linux", {"XDG_DATA_HOME": "relative"}, user) == (
        user / ".local/share/fieldsync"
    )
    assert default_home("linux", {}, user) == user / ".local/share/fieldsync"


def test_fieldsync_home_overrides_the_default(tmp_path: Path) -> None:
    assert fieldsync_home({"FIELDSYNC_HOME": str(tmp_path / "x")}) == tmp_path / "x"


def test_saved_config_round_trips_and_keeps_the_laptop_id(tmp_path: Path) -> None:
    config = Config(server_url="https://s.org", token="t0k", email="a@b.org", project_id=4)
    save_config(tmp_path, config)
    loaded = load_config(tmp_path)
    assert loaded == config
    assert loaded.hub_id == config.hub_id
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_config_and_home_are_private_on_posix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = save_config(home, Config(server_url="https://s.org", token="secret"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    # overwriting keeps the mode
    save_config(home, Config(server_url="https://s.org", token="other"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["token"] == "other"


def test_missing_config_is_empty_and_login_is_required(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert not config.logged_in
    with pytest.raises(UsageError, match="fieldsync login"):
        config.require_login()


def test_damaged_config_is_reported_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(StoreError, match="damaged"):
        load_config(tmp_path)
    assert (tmp_path / "config.json").read_text() == "{not json"
