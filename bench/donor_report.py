"""Benchmark: the donor report on the coalition reports' generated programme (100,000 hazard
areas, 1,000,000 reports), on PostgreSQL.

    .venv/bin/python bench/donor_report.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--areas 100000] [--reports 1000000] [--runs 3]

Creates a scratch database (dropped at the end), publishes the form library, and generates the
submissions and the reporting tables with bench/reports.py's SQL (the same programme: three
years, 18 provinces, 20 operators, 90% approved). Then records a donor with three agreements
for 2026: one funds a third of the hazard areas (33,334 entity ids), one 50 tasking orders and
a province, one two districts; and prints, for each run, the time to build the donor report
(``server.donors.report.donor_report``, all three agreements and the donor's total) and to
render it as JSON and XLSX, then Form I. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.db import transaction  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.runtime import make_runtime  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402


def _generator() -> str:
    """bench/reports.py's SQL that writes the programme (one source of generated data)."""
    spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "bench" / "reports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.GENERATE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--areas", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="Runs of the report.")
    args = parser.parse_args()

    url, name = create_scratch_database(args.database_url, "fieldsync_bench")
    slowest = 0.0
    try:
        with TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir), database_url=url, secret_key="bench", log_level="WARNING"
            )
            runtime = make_runtime(settings)
            upgrade(runtime.engine)
            from server.donors import report, service
            from server.forms.models import Form
            from server.forms.service import bundled_form_files, publish_many
            from server.projects.models import Project
            from server.projects.service import create_project
            from server.reports.render import to_xlsx
            from server.settings import BUNDLED_FORMS_DIR

            with transaction(runtime.session_factory) as session:
                project = create_project(session, "Bench")
                publish_many(
                    session, runtime.blobs, project, bundled_form_files(BUNDLED_FORMS_DIR),
                    max_bytes=10**7,
                )  # fmt: skip
                project_id = project.id
                form_id = session.query(Form.id).filter(Form.project_id == project_id).first()[0]
            started = time.perf_counter()
            with runtime.engine.begin() as conn:
                for statement in _generator().split(";\n"):
                    if statement.strip():
                        conn.execute(
                            text(statement),
                            {"project": project_id, "form": form_id, "areas": args.areas,
                             "reports": args.reports},
                        )  # fmt: skip
            with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
                facts = c.execute(text("SELECT count(*) FROM report_facts")).scalar()
                items = c.execute(text("SELECT count(*) FROM report_items")).scalar()
            print(
                f"(setup: {facts} reports on {args.areas} hazard areas, {items} items, "
                f"generated in {time.perf_counter() - started:.1f} s)"
            )
            # Agreements are written as rows: their hazard areas are the generator's ids, which
            # the API would check against the hazard-area list (empty here).
            from server.donors.models import FundingAgreement

            with transaction(runtime.session_factory) as session:
                donor = service.create_donor(
                    session, project_id, {"name": "Bench donor", "iati_org_ref": "GB-GOV-1"}
                )
                scopes = (
                    {"hazard_areas": [f"ha-{n}" for n in range(1, args.areas + 1, 3)]},
                    {"activities": [f"T-{n}" for n in range(0, 5000, 100)],
                     "admin_areas": ["LA05"]},
                    {"admin_areas": ["LA0702", "LA1104"]},
                )  # fmt: skip
                for n, scope in enumerate(scopes):
                    agreement = FundingAgreement(
                        donor_id=donor.id,
                        iati_identifier=f"GB-GOV-1-{n}",
                        title=f"Bench {n}",
                        amount=1000,
                        currency="USD",
                        period_start=date(2026, 1, 1),
                        period_end=date(2026, 12, 31),
                        hazard_areas=scope.get("hazard_areas", []),
                        activities=scope.get("activities", []),
                        admin_areas=scope.get("admin_areas", []),
                    )
                    session.add(agreement)
                    session.flush()
                    service.add_transaction(
                        session,
                        agreement,
                        {"type": "commitment", "date": date(2026, 2, 1), "value": 10},
                        project_id=project_id,
                    )
                donor_id = donor.id
            for attempt in range(args.runs):
                with runtime.session_factory() as session:
                    donor = service.get_donor(session, project_id, donor_id)
                    project = session.get(Project, project_id)
                    assert project is not None
                    t0 = time.perf_counter()
                    body = report.donor_report(session, project_id, donor, year=2026)
                    built = time.perf_counter() - t0
                    json.dumps(body)
                    as_json = time.perf_counter() - t0
                    to_xlsx(report.donor_document(body, project.name, 5))
                    as_xlsx = time.perf_counter() - t0
                slowest = max(slowest, as_xlsx)
                counted = [a["outputs"]["reports"] for a in body["agreements"]]
                print(
                    f"donor report, run {attempt + 1}: built {built:.2f} s, JSON {as_json:.2f} s, "
                    f"XLSX {as_xlsx:.2f} s (reports per agreement {counted}, total "
                    f"{body['totals']['reports']}, {body['totals']['released_m2']:.0f} m²)"
                )
            with runtime.session_factory() as session:
                t0 = time.perf_counter()
                rows = report.form_i_funding(session, project_id, 2026)
                print(f"form I: {len(rows)} row(s) in {time.perf_counter() - t0:.3f} s")
            runtime.engine.dispose()
    finally:
        drop_scratch_database(url, name)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(json.dumps({"database": "postgresql", "areas": args.areas, "reports": args.reports,
                      "slowest_seconds": round(slowest, 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
