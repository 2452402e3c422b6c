"""``fieldsync-server export``: the same files as the HTTP export, written to --out."""

from __future__ import annotations

import zipfile
from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from server.cli import main
from tests.exports.conftest import PHOTO_NAME, Survey


def _env(app: Flask) -> dict[str, str]:
    settings = app.extensions["fieldsync"].settings
    return {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def test_the_server_export_writes_the_central_zip(
    app: Flask, survey: Survey, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "survey.zip"
    result = CliRunner().invoke(
        main,
        ["export", "hazard_survey", "--project", str(survey.project.id), "--out", str(out)],
        env=_env(app),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[-1] == f"media/{PHOTO_NAME}"
        assert archive.read("hazard_survey.csv").decode() == survey.expected("hazard_survey.csv")
    csv_out = tmp_path / "root.csv"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "hazard_survey",
            "--project",
            str(survey.project.id),
            "--format",
            "csv",
            "--version",
            "1",
            "--out",
            str(csv_out),
        ],
        env=_env(app),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert csv_out.read_text(encoding="utf-8") == survey.expected("hazard_survey-version1.csv")


def test_a_bad_export_is_one_line_and_no_file(app: Flask, survey: Survey, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    out = tmp_path / "exports" / "x.csv"
    result = CliRunner().invoke(
        main,
        [
            "export",
            "hazard_survey",
            "--project",
            str(survey.project.id),
            "--format",
            "csv",
            "--filter",
            "__system/reviewState eq 'great'",
            "--out",
            str(out),
        ],
        env=_env(app),
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: ")
    assert "'great' is not a review state" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    assert list((tmp_path / "exports").iterdir()) == []
    unknown = CliRunner().invoke(
        main,
        ["export", "nope", "--project", str(survey.project.id), "--out", str(out)],
        env=_env(app),
        catch_exceptions=False,
    )
    assert unknown.exit_code == 1
    assert "there is no form 'nope' in this project" in unknown.output
