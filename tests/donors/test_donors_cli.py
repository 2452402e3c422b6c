"""``fieldsync-server donors ...``: the same records and refusals as the API."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result
from flask import Flask
from lxml import etree

from server.cli import main
from tests.donors.conftest import Coalition


def _run(app: Flask, *args: str) -> Result:
    settings = app.extensions["fieldsync"].settings
    env = {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_donor_agreement_and_transactions_from_the_command_line(
    field_year: Coalition, app: Flask, tmp_path: Path
) -> None:
    c = field_year
    project = ["--project", str(c.project.id)]
    added = _run(
        app, "donors", "add", "Japan MOFA", "--iati-ref", "JP-GOV-1", "--org-type", "10", *project
    )
    assert added.exit_code == 0, added.output
    assert "JP-GOV-1" in added.output
    agreement = _run(
        app, "donors", "agreement", "add", "JP-GOV-1", *project,
        "--iati-id", "JP-GOV-1-LAO-1", "--title", "Savannakhet", "--amount", "250000",
        "--currency", "JPY", "--start", "2026-01-01", "--end", "2026-12-31",
        "--activity", "T-03", "--hazard-area", "HA-0003",
        "--org", "implementing:Halo Trust:GB-CHC-1001813", "--org", "2:National Authority",
    )  # fmt: skip
    assert agreement.exit_code == 0, agreement.output
    for kind, day, value in (("commitment", "2026-01-20", "250000"), ("3", "2026-02-01", "100000")):
        made = _run(
            app, "donors", "transaction", "add", "JP-GOV-1-LAO-1", *project,
            "--type", kind, "--date", day, "--value", value,
        )  # fmt: skip
        assert made.exit_code == 0, made.output
    listed = _run(app, "donors", "list", *project)
    assert "JP-GOV-1\tJapan MOFA\t1 agreement(s)" in listed.output
    transactions = _run(app, "donors", "transaction", "list", "JP-GOV-1-LAO-1", *project)
    assert [line.split("\t")[1:5] for line in transactions.output.splitlines()] == [
        ["commitment", "2026-01-20", "250000.00", "JPY"],
        ["disbursement", "2026-02-01", "100000.00", "JPY"],
    ]
    report = _run(app, "donors", "report", "JP-GOV-1", "--year", "2026", *project)
    body = json.loads(report.output)
    outputs = body["agreements"][0]["outputs"]
    # T-03 or HA-0003: hz3, c3 (c5 is not approved; e2 is in LA13 but the scope names no area)
    assert (outputs["reduced_m2"], outputs["cleared_m2"], outputs["reports"]) == (300.0, 5000.0, 2)
    out = tmp_path / "jp.csv"
    as_csv = _run(
        app, "donors", "report", "JP-GOV-1", "--format", "csv", "--out", str(out), *project
    )
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["agreement"] for r in rows] == ["JP-GOV-1-LAO-1", "total"]
    xml = _run(
        app, "donors", "iati", "export", "JP-GOV-1", "--agreement", "JP-GOV-1-LAO-1", *project
    )
    activity = etree.fromstring(xml.output.encode("utf-8")).find("iati-activity")
    assert activity is not None
    roles = [
        (o.get("role"), o.findtext("narrative")) for o in activity.findall("participating-org")
    ]
    assert roles == [("1", "Japan MOFA"), ("2", "National Authority"), ("4", "Halo Trust")]


def test_command_line_refusals_name_the_field(field_year: Coalition, app: Flask) -> None:
    c = field_year
    project = ["--project", str(c.project.id)]
    bad_ref = _run(app, "donors", "add", "Japan", "--iati-ref", "JAPAN", *project)
    assert bad_ref.exit_code != 0
    assert "iati_org_ref: not an IATI organisation identifier" in bad_ref.output
    assert _run(app, "donors", "add", "Japan", "--iati-ref", "JP-GOV-1", *project).exit_code == 0
    negative = _run(
        app, "donors", "agreement", "add", "JP-GOV-1", *project, "--iati-id", "JP-GOV-1-X",
        "--title", "T", "--amount", "-5", "--currency", "YEN", "--start", "2026-01-01",
        "--end", "2026-12-31",
    )  # fmt: skip
    assert negative.exit_code != 0
    assert "amount: must not be negative" in negative.output
    assert "currency: not an ISO 4217 currency code" in negative.output
    unknown = _run(app, "donors", "report", "XM-DAC-1", *project)
    assert unknown.exit_code != 0
    assert "no donor 'XM-DAC-1'" in unknown.output


def test_every_donors_command_has_help(app: Flask) -> None:
    for command in (
        ["donors"],
        ["donors", "add"],
        ["donors", "agreement", "add"],
        ["donors", "transaction", "add"],
        ["donors", "iati", "export"],
        ["donors", "report"],
        ["donors", "link-user"],
    ):
        result = _run(app, *command, "--help")
        assert result.exit_code == 0
        assert "Usage: main" in result.output or "Usage:" in result.output


def test_link_user_keeps_a_user_to_one_donor(coalition: Coalition, app: Flask) -> None:
    c = coalition
    user = c.factories.user()
    project = ["--project", str(c.project.id)]
    linked = _run(app, "donors", "link-user", "XM-DAC-41114", user.email, *project)
    assert linked.exit_code == 0, linked.output
    who = c.factories.login(user)
    listed = c.client.get(f"{c.base}/donors", headers=who.headers).get_json()
    assert [d["iati_org_ref"] for d in listed] == ["XM-DAC-41114"]
    other = c.client.get(f"{c.base}/reports/donors/{c.donors['A']}", headers=who.headers)
    assert other.status_code == 404
    assert _run(app, "donors", "unlink-user", "XM-DAC-41114", user.email, *project).exit_code == 0
    assert c.client.get(f"{c.base}/donors", headers=who.headers).status_code == 404
