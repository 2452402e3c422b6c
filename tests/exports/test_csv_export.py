"""The Central-shaped CSV export, checked file by file, header by header, cell by cell against
hand-written expected CSVs."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile

import pytest
from flask.testing import FlaskClient

from tests.exports.conftest import PHOTO_NAME, A, B, Survey
from tests.factories import Factories
from tests.openrosa.helpers import PHOTO


def _zip(client: FlaskClient, survey: Survey, query: str = "") -> zipfile.ZipFile:
    response = client.get(survey.url(".csv.zip" + query), headers=survey.viewer.headers)
    assert response.status_code == 200, response.data
    assert response.content_type == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="hazard_survey.csv.zip"'
    return zipfile.ZipFile(io.BytesIO(response.data))


def _text(archive: zipfile.ZipFile, name: str) -> str:
    return archive.read(name).decode("utf-8")


def test_the_zip_holds_the_root_each_repeat_and_the_media_exactly(
    client: FlaskClient, survey: Survey
) -> None:
    archive = _zip(client, survey)
    assert archive.namelist() == [
        "hazard_survey.csv",
        "hazard_survey-person.csv",
        "hazard_survey-injury.csv",
        f"media/{PHOTO_NAME}",
    ]
    assert _text(archive, "hazard_survey.csv") == survey.expected("hazard_survey.csv")
    assert _text(archive, "hazard_survey-person.csv") == survey.expected("hazard_survey-person.csv")
    assert _text(archive, "hazard_survey-injury.csv") == survey.expected("hazard_survey-injury.csv")
    assert archive.read(f"media/{PHOTO_NAME}") == PHOTO
    # UTF-8 without a byte-order mark, as Central writes.
    assert not archive.read("hazard_survey.csv").startswith(b"\xef\xbb\xbf")


def test_attachments_false_leaves_the_media_out(client: FlaskClient, survey: Survey) -> None:
    archive = _zip(client, survey, "?attachments=false")
    assert archive.namelist() == [
        "hazard_survey.csv",
        "hazard_survey-person.csv",
        "hazard_survey-injury.csv",
    ]
    assert _text(archive, "hazard_survey.csv") == survey.expected("hazard_survey.csv")


def test_the_root_csv_alone_is_the_root_file(client: FlaskClient, survey: Survey) -> None:
    response = client.get(survey.url(".csv"), headers=survey.viewer.headers)
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="hazard_survey.csv"'
    assert response.data.decode("utf-8") == survey.expected("hazard_survey.csv")


def test_split_select_multiples_without_group_paths(client: FlaskClient, survey: Survey) -> None:
    response = client.get(
        survey.url(".csv?splitSelectMultiples=true&groupPaths=false"),
        headers=survey.viewer.headers,
    )
    assert response.status_code == 200
    assert response.data.decode("utf-8") == survey.expected("hazard_survey-split-nogroups.csv")


def test_one_version_with_its_own_fields(client: FlaskClient, survey: Survey) -> None:
    response = client.get(survey.url(".csv?version=1"), headers=survey.viewer.headers)
    assert response.status_code == 200
    assert response.data.decode("utf-8") == survey.expected("hazard_survey-version1.csv")


def test_deleted_fields_come_back_where_they_were(client: FlaskClient, survey: Survey) -> None:
    response = client.get(survey.url(".csv?deletedFields=true"), headers=survey.viewer.headers)
    lines = response.data.decode("utf-8").split("\n")
    header = lines[0].split(",")
    assert header[4:7] == ["area_m2", "old_notes", "hazards"]
    assert "route" in header
    assert lines[2].split(",")[4:7] == ["80", "kept in version 1", "ied"]
    # Without the option the earlier version's field is left out.
    plain = client.get(survey.url(".csv"), headers=survey.viewer.headers)
    assert "old_notes" not in plain.data.decode("utf-8")


@pytest.mark.parametrize(
    ("expression", "keys"),
    [
        ("__system/submissionDate ge 2026-03-02", ["cccc", "bbbb"]),
        ("__system/submissionDate lt 2026-03-01T08:15:00.124Z", ["aaaa"]),
        ("__system/reviewState eq 'approved'", ["bbbb"]),
        ("__system/reviewState eq null", ["aaaa"]),
        (
            "not (__system/reviewState eq 'edited') and __system/submissionDate gt 2026-01-01",
            ["bbbb", "aaaa"],
        ),
        (
            "__system/reviewState eq 'rejected'"
            " or __system/submissionDate le 2026-03-01T23:00:00+02:00",
            ["aaaa"],
        ),
    ],
)
def test_filter_on_submission_date_and_review_state(
    client: FlaskClient, survey: Survey, expression: str, keys: list[str]
) -> None:
    response = client.get(
        survey.url(".csv"), query_string={"$filter": expression}, headers=survey.viewer.headers
    )
    assert response.status_code == 200, response.data
    header, *rows = csv.reader(io.StringIO(response.data.decode("utf-8")))
    key = header.index("KEY")
    assert [row[key][5:9] for row in rows] == keys


def test_repeat_tables_follow_the_filter(client: FlaskClient, survey: Survey) -> None:
    archive = _zip(client, survey, "?$filter=__system/reviewState eq null&attachments=false")
    person = _text(archive, "hazard_survey-person.csv").splitlines()
    assert len(person) == 3
    assert all(A in line for line in person[1:])
    assert B not in _text(archive, "hazard_survey-injury.csv")


def test_an_unchanged_export_is_not_sent_again(client: FlaskClient, survey: Survey) -> None:
    first = client.get(survey.url(".csv.zip"), headers=survey.viewer.headers)
    assert zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    etag = first.headers["ETag"]
    again = client.get(
        survey.url(".csv.zip"), headers={**survey.viewer.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.data == b""
    other_options = client.get(
        survey.url(".csv.zip?groupPaths=false"),
        headers={**survey.viewer.headers, "If-None-Match": etag},
    )
    assert other_options.status_code == 200
    assert other_options.data
    review = client.patch(
        survey.url(f"/{A}"), json={"review_state": "rejected"}, headers=survey.coordinator.headers
    )
    assert review.status_code == 200, review.data
    after = client.get(
        survey.url(".csv.zip"), headers={**survey.viewer.headers, "If-None-Match": etag}
    )
    assert after.status_code == 200
    assert after.headers["ETag"] != etag


def test_gzip_when_the_client_accepts_it(client: FlaskClient, survey: Survey) -> None:
    response = client.get(
        survey.url(".csv"), headers={**survey.viewer.headers, "Accept-Encoding": "gzip"}
    )
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data).decode("utf-8") == survey.expected("hazard_survey.csv")


@pytest.mark.parametrize(
    ("suffix", "status", "code", "detail"),
    [
        (
            ".csv?groupPaths=yes",
            400,
            "export.bad_option",
            "groupPaths must be true or false, not 'yes'",
        ),
        (
            ".csv.zip?attachments=0",
            400,
            "export.bad_option",
            "attachments must be true or false, not '0'",
        ),
        (
            ".csv?version=7",
            404,
            "export.version_not_found",
            "form 'hazard_survey' has no version '7' to export",
        ),
        (
            ".csv?$filter=__system/colour eq 'red'",
            400,
            "export.bad_filter",
            "'__system/colour' at character 1",
        ),
        (
            ".csv?$filter=__system/reviewState eq 'great'",
            400,
            "export.bad_filter",
            "'great' is not a review state",
        ),
        (
            ".csv?$filter=__system/submissionDate ge 2026-13-01",
            400,
            "export.bad_filter",
            "'2026-13-01' is not a date",
        ),
        (
            ".csv?$filter=__system/submissionDate ge",
            400,
            "export.bad_filter",
            "the filter ends too early",
        ),
        (".csv?field=location", 400, "export.bad_option", "field must be left out"),
    ],
)
def test_bad_options_are_refused_precisely(
    client: FlaskClient, survey: Survey, suffix: str, status: int, code: str, detail: str
) -> None:
    response = client.get(survey.url(suffix), headers=survey.viewer.headers)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code
    assert detail in response.json["detail"]


def test_an_unknown_form_is_a_404(client: FlaskClient, survey: Survey) -> None:
    response = client.get(
        f"/api/v1/projects/{survey.project.id}/forms/nope/submissions.csv.zip",
        headers=survey.viewer.headers,
    )
    assert response.status_code == 404
    assert response.json["code"] == "form.not_found"


def test_viewers_and_above_may_export_data_collectors_may_not(
    client: FlaskClient, survey: Survey, factories: Factories
) -> None:
    assert client.get(survey.url(".csv")).status_code == 401
    collector = factories.logged_in(survey.project, "data_collector")
    refused = client.get(survey.url(".csv"), headers=collector.headers)
    assert refused.status_code == 403
    for role in ("coordinator", "administrator"):
        allowed = factories.logged_in(survey.project, role)
        assert client.get(survey.url(".csv"), headers=allowed.headers).status_code == 200
    stranger = factories.logged_in(factories.project(), "administrator")
    assert client.get(survey.url(".csv"), headers=stranger.headers).status_code == 404


def test_pages_join_up_without_a_gap_or_a_repeat(
    client: FlaskClient, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.exports import service

    monkeypatch.setattr(service, "PAGE", 1)
    archive = _zip(client, survey)
    for name in ("hazard_survey.csv", "hazard_survey-person.csv", "hazard_survey-injury.csv"):
        assert _text(archive, name) == survey.expected(name)
    split = client.get(
        survey.url(".csv?splitSelectMultiples=true&groupPaths=false"),
        headers=survey.viewer.headers,
    )
    assert split.data.decode("utf-8") == survey.expected("hazard_survey-split-nogroups.csv")


def test_no_gzip_for_a_client_that_refuses_it(client: FlaskClient, survey: Survey) -> None:
    response = client.get(
        survey.url(".csv"), headers={**survey.viewer.headers, "Accept-Encoding": "gzip;q=0"}
    )
    assert "Content-Encoding" not in response.headers
    assert response.data.decode("utf-8") == survey.expected("hazard_survey.csv")
