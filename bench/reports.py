"""Benchmark: the coalition reports on 100,000 hazard areas and 1,000,000 reports, on
PostgreSQL.

    .venv/bin/python bench/reports.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--areas 100000] [--reports 1000000] [--runs 3]

Creates a scratch database (dropped at the end), publishes the form library, and generates the
rows directly with SQL (the load being measured is the report, not the intake): one submission
row per report and the reporting tables the intake keeps (ADR 0017; the summary is then
computed from the facts as ``reports rebuild-facts`` does): a non-technical survey
per hazard area, technical survey, clearance and completion reports on them, risk education
sessions, accidents and needs assessments, over three years, 18 provinces, 20 operators, 90%
approved, with their devices, participants, casualties and referrals; a report about a
hazard area carries the area's place, as the intake writes it. Then prints, for each
report (Article 7, Monitor, 3W/4W for a year, for a quarter with an operator and a province,
strategy), the time to build it and render it as JSON and XLSX, three runs each. Figures are
printed, not asserted.
"""

# ruff: noqa: E501  (the generating SQL reads better unwrapped)
from __future__ import annotations

import argparse
import json
import os
import sys
import time
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

# Report kinds by range of the report number r (1-based), for N areas and R reports:
#   r <= N                 nts (creates area r)
#   r <= R * 0.80          ts / clearance on area (r % N) + 1
#   r <= R * 0.85          completion on area (r % N) + 1
#   r <= R * 0.95          eore session
#   r <= R * 0.98          accident
#   else                   needs assessment
GENERATE = """
INSERT INTO submissions (id, project_id, form_id, root_instance_id, current_instance_id,
                         review_state, created_at, updated_at)
SELECT r, :project, :form, 'uuid:bench-' || r, 'uuid:bench-' || r,
       CASE WHEN r % 10 = 0 THEN 'received' ELSE 'approved' END, now(), now()
FROM generate_series(1, :reports) AS r;

INSERT INTO report_facts (id, project_id, submission_id, approved, form, kind, fact_date,
    organisation, task_id, hazard_area, ha_code, admin1, admin2, hazard_type, status,
    contamination, remaining_m2, cancelled_m2, reduced_m2, cleared_m2, survivor_code,
    eore_method)
SELECT r, :project, r, r % 10 <> 0, k.form, k.kind,
       DATE '2024-01-01' + (r::bigint * 7919 % 1096)::int,
       'Operator ' || (r % 20), 'T-' || (r % 5000),
       CASE WHEN k.area THEN 'ha-' || a ELSE NULL END,
       CASE WHEN k.area THEN 'HA-' || lpad(a::text, 6, '0') END,
       'LA' || lpad((1 + a % 18)::text, 2, '0'),
       'LA' || lpad((1 + a % 18)::text, 2, '0') || lpad((1 + a / 18 % 8)::text, 2, '0'),
       CASE WHEN k.area AND k.kind <> 'completion' THEN CASE WHEN a % 3 = 0 THEN 'cha' ELSE 'sha' END END,
       CASE WHEN k.kind = 'nts' THEN 'suspected' WHEN k.kind = 'completion' THEN 'cleared'
            WHEN k.area THEN 'in_clearance' END,
       CASE WHEN k.area AND k.kind <> 'completion'
            THEN CASE WHEN a % 4 = 0 THEN 'ap_mine' ELSE 'cmr uxo' END END,
       CASE WHEN k.area THEN CASE WHEN k.kind = 'completion' THEN 0 ELSE 5000 + a % 20000 END END,
       CASE WHEN k.kind = 'nts' THEN r % 500 ELSE 0 END,
       CASE WHEN k.kind = 'ts' THEN 400 + r % 300 ELSE 0 END,
       CASE WHEN k.kind IN ('clearance', 'completion') THEN 300 + r % 700 ELSE 0 END,
       CASE WHEN k.kind = 'assessment' THEN 'SV-' || r END,
       CASE WHEN k.kind = 'eore' THEN (ARRAY['face_to_face', 'school_lesson', 'mass_media'])[1 + r % 3] END
FROM generate_series(1, :reports) AS r
CROSS JOIN LATERAL (SELECT CASE WHEN r <= :areas THEN r ELSE r % :areas + 1 END AS a) AS x
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
        (r <= :areas, 'hazard_report', 'nts', true),
        (r > :areas AND r <= :reports * 0.80 AND r % 2 = 0, 'clearance_report', 'ts', true),
        (r > :areas AND r <= :reports * 0.80 AND r % 2 = 1, 'clearance_report', 'clearance', true),
        (r > :reports * 0.80 AND r <= :reports * 0.85, 'completion_report', 'completion', true),
        (r > :reports * 0.85 AND r <= :reports * 0.95, 'eore_session', 'eore', false),
        (r > :reports * 0.95 AND r <= :reports * 0.98, 'accident_report', 'accident', false),
        (r > :reports * 0.98, 'survivor_needs_assessment', 'assessment', false)
    ) AS v(hit, form, kind, area) WHERE v.hit
) AS k;

INSERT INTO report_items (fact_id, kind, category, model, sex, age, grp, outcome, need, status, item_key, quantity)
SELECT id, 'destroyed', CASE WHEN id % 5 = 0 THEN 'uxo' ELSE 'cmr' END,
       (ARRAY['blu_26', 'blu_61', 'm42', 'm77', 'mortar_60'])[1 + id % 5],
       '', '', '', '', '', '', '', 1 + id % 4
FROM report_facts WHERE kind IN ('ts', 'clearance');

INSERT INTO report_items (fact_id, kind, category, model, sex, age, grp, outcome, need, status, item_key, quantity)
SELECT f.id, 'eore', '', '', c.sex, c.band, '', '', '', '', '', 1 + (f.id + c.n) % 30
FROM report_facts f CROSS JOIN (VALUES
    (1, 'female', '0-9'), (2, 'female', '10-17'), (3, 'female', '18-45'), (4, 'female', '46+'),
    (5, 'male', '0-9'), (6, 'male', '10-17'), (7, 'male', '18-45'), (8, 'male', '46+')
) AS c(n, sex, band)
WHERE f.kind = 'eore';

INSERT INTO report_items (fact_id, kind, category, model, sex, age, grp, outcome, need, status, item_key, quantity)
SELECT f.id, 'casualty', 'cmr', '',
       (ARRAY['female', 'male', 'male'])[1 + (f.id + n) % 3],
       (ARRAY['child', 'adult', 'unknown'])[1 + (f.id * n) % 3],
       (ARRAY['civilian', 'deminer', 'military'])[1 + (f.id + n) % 3],
       (ARRAY['killed', 'injured', 'injured', 'unknown'])[1 + (f.id + n) % 4],
       '', '', '', 1
FROM report_facts f CROSS JOIN generate_series(1, 2) AS n
WHERE f.kind = 'accident';

INSERT INTO report_items (fact_id, kind, category, model, sex, age, grp, outcome, need, status, item_key, quantity)
SELECT id, 'referral', '', '', '', '', '', '', (ARRAY['medical', 'prosthesis', 'livelihood'])[1 + id % 3],
       (ARRAY['open', 'in_progress', 'completed'])[1 + id % 3], 'ref-' || id, 1
FROM report_facts WHERE kind = 'assessment';

SELECT setval(pg_get_serial_sequence('submissions', 'id'), :reports);
SELECT setval(pg_get_serial_sequence('report_facts', 'id'), :reports);
"""

QUERIES = [
    ("article7", {"year": "2026"}),
    ("monitor", {"year": "2026"}),
    ("who-what-where", {"year": "2026"}),
    ("who-what-where", {"quarter": "2026-Q2", "operator": "Operator 3", "admin": "LA05"}),
    ("strategy", {"as_of": "2026-12-31"}),
]


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
    parser.add_argument("--runs", type=int, default=3, help="Runs of each report.")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the scratch database (prints its URL)."
    )
    args = parser.parse_args()

    url, name = create_scratch_database(args.database_url, "fieldsync_bench")
    figures: dict[str, float] = {}
    try:
        with TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir), database_url=url, secret_key="bench", log_level="WARNING"
            )
            runtime = make_runtime(settings)
            upgrade(runtime.engine)
            from server.forms.models import Form
            from server.forms.service import bundled_form_files, publish_many
            from server.projects.service import create_project
            from server.reports import service
            from server.reports.render import to_json, to_xlsx
            from server.reports.strategy import NewTarget
            from server.settings import BUNDLED_FORMS_DIR

            with transaction(runtime.session_factory) as session:
                project = create_project(session, "Bench")
                publish_many(
                    session, runtime.blobs, project, bundled_form_files(BUNDLED_FORMS_DIR),
                    max_bytes=10**7,
                )  # fmt: skip
                project_id = project.id
                form_id = session.query(Form.id).filter(Form.project_id == project_id).first()[0]
                from datetime import date

                for admin in ("", "LA05"):
                    service.add_target(
                        session, project_id,
                        NewTarget("Release", "released_m2", 5e8, date(2024, 1, 1),
                                  date(2030, 12, 31), admin),
                    )  # fmt: skip
                service.add_target(
                    session, project_id,
                    NewTarget("Close", "areas_closed", 80000, date(2024, 1, 1), date(2030, 12, 31)),
                )  # fmt: skip
            started = time.perf_counter()
            with runtime.engine.begin() as conn:
                for statement in GENERATE.split(";\n"):
                    if statement.strip():
                        conn.execute(
                            text(statement),
                            {"project": project_id, "form": form_id, "areas": args.areas,
                             "reports": args.reports},
                        )  # fmt: skip
            summed = time.perf_counter()
            from server.reports.summary import resummarise

            with transaction(runtime.session_factory) as session:
                resummarise(session, project_id)
            with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("ANALYZE"))
                facts = c.execute(text("SELECT count(*) FROM report_facts")).scalar()
                items = c.execute(text("SELECT count(*) FROM report_items")).scalar()
            print(
                f"(setup: {facts} reports on {args.areas} hazard areas, {items} items, "
                f"generated in {summed - started:.1f} s, summed in "
                f"{time.perf_counter() - summed:.1f} s)"
            )
            from server.projects.models import Project

            for kind, query in QUERIES:
                label = kind + ("" if list(query) == ["year"] else f" {query}")
                for attempt in range(args.runs):
                    with runtime.session_factory() as session:
                        project = session.get(Project, project_id)
                        assert project is not None
                        t0 = time.perf_counter()
                        report = service.build(session, project, kind, query)
                        built = time.perf_counter() - t0
                        body = to_json(report)
                        as_json = time.perf_counter() - t0
                        to_xlsx(report)
                        as_xlsx = time.perf_counter() - t0
                    figures[label] = max(figures.get(label, 0.0), as_xlsx)
                    print(
                        f"{label}, run {attempt + 1}: built {built:.2f} s, JSON {as_json:.2f} s "
                        f"({len(body) / 1e3:.0f} kB), XLSX {as_xlsx:.2f} s"
                    )
            runtime.engine.dispose()
    finally:
        if args.keep:
            print(f"(kept: {url})")
        else:
            drop_scratch_database(url, name)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(json.dumps({"database": "postgresql", "areas": args.areas, "reports": args.reports,
                      "slowest_seconds": {k: round(v, 2) for k, v in figures.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
