"""``fieldsync export``: the coordinator's export from the laptop's store, with the server
stopped. The laptop pulled the forms (and review states) while online and holds the
submissions it collected; the files match the server's, but for the server-only SubmitterID."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync_client.backoff import RetryPolicy
from sync_client.cli import main
from sync_client.http import Api
from sync_client.instances import FoundInstance
from sync_client.outbox import add_submission
from sync_client.pull import pull
from sync_client.store import open_store
from tests.conftest import LiveServer
from tests.exports.conftest import (
    A_XML,
    B_XML,
    C_EDIT,
    C_EDIT_XML,
    C_XML,
    PHOTO_NAME,
    RECEIVED,
    A,
    B,
    C,
    Survey,
)
from tests.openrosa.helpers import PHOTO

pytestmark = pytest.mark.e2e


def _laptop(home: Path, survey: Survey, live_server: LiveServer) -> None:
    store = open_store(home)
    try:
        api = Api(live_server.url, survey.coordinator.token, RetryPolicy(max_retries=1))
        pull(store, api, survey.project.id)
        api.session.close()
        submissions = [
            (A, A_XML, None, {PHOTO_NAME: PHOTO}, RECEIVED[A]),
            (B, B_XML, None, {}, RECEIVED[B]),
            (C, C_XML, None, {}, RECEIVED[C]),
            (C_EDIT, C_EDIT_XML, C, {}, RECEIVED[C]),
        ]
        for instance_id, xml, deprecated, files, received in submissions:
            version = "1" if instance_id == B else "2"
            found = FoundInstance(
                display=instance_id,
                xml=xml.encode("utf-8"),
                form_id="hazard_survey",
                version=version,
                instance_id=instance_id,
                deprecated_id=deprecated,
                device_id="",
                modified=received,
            )
            refs = [(n, store.put_blob_stream(io.BytesIO(data))) for n, data in files.items()]
            hop = {
                "hop": "device",
                "id": "collect:Xk2ha8",
                "app_user": "tablet",
                "received_at": received.isoformat().replace("+00:00", "Z"),
            }
            with store.transaction() as conn:
                add_submission(store, conn, found, refs, survey.project.id, [hop], "hub")
    finally:
        store.close()


def test_the_laptop_exports_offline_what_it_holds(
    survey: Survey, live_server: LiveServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _laptop(home, survey, live_server)
    live_server.stop()  # the coordinator in the field has no link
    out = tmp_path / "field" / "hazard_survey.csv.zip"
    result = CliRunner().invoke(
        main,
        ["export", "hazard_survey", "--out", str(out)],
        env={"FIELDSYNC_HOME": str(home)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "3 submissions" in result.output

    def expected(name: str) -> str:
        return survey.expected(name).replace(f",{survey.device.app_user_id},tablet,", ",,tablet,")

    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == [
            "hazard_survey.csv",
            "hazard_survey-person.csv",
            "hazard_survey-injury.csv",
            f"media/{PHOTO_NAME}",
        ]
        assert archive.read("hazard_survey.csv").decode() == expected("hazard_survey.csv")
        assert archive.read("hazard_survey-person.csv").decode() == expected(
            "hazard_survey-person.csv"
        )
        assert archive.read("hazard_survey-injury.csv").decode() == expected(
            "hazard_survey-injury.csv"
        )
        assert archive.read(f"media/{PHOTO_NAME}") == PHOTO
    root = tmp_path / "root.csv"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "hazard_survey",
            "--format",
            "csv",
            "--filter",
            "__system/reviewState eq 'approved'",
            "--out",
            str(root),
        ],
        env={"FIELDSYNC_HOME": str(home)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    header, *rows = root.read_text(encoding="utf-8").splitlines()
    assert header == expected("hazard_survey.csv").splitlines()[0]
    assert rows == [expected("hazard_survey.csv").splitlines()[2]]


def test_the_laptop_says_what_it_lacks(
    survey: Survey, live_server: LiveServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _laptop(home, survey, live_server)
    live_server.stop()
    unknown = CliRunner().invoke(
        main, ["export", "clearance"], env={"FIELDSYNC_HOME": str(home)}, catch_exceptions=False
    )
    assert unknown.exit_code == 2
    assert "this laptop has no copy of form 'clearance'; run 'fieldsync pull'" in unknown.output
    bad = CliRunner().invoke(
        main,
        ["export", "hazard_survey", "--filter", "__system/nope eq 1"],
        env={"FIELDSYNC_HOME": str(home)},
        catch_exceptions=False,
    )
    assert bad.exit_code == 2
    assert "'__system/nope' at character 1" in bad.output
    # The laptop pulls the current version of each form; older XForms stay on the server.
    old = CliRunner().invoke(
        main,
        ["export", "hazard_survey", "--version", "1"],
        env={"FIELDSYNC_HOME": str(home)},
        catch_exceptions=False,
    )
    assert old.exit_code == 2
    assert "no version '1' of form 'hazard_survey'; it holds the versions it pulled ('2')" in (
        old.output
    )
