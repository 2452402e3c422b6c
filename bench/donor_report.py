"""Benchmark: the donor report (and Form I) over many approved clearance reports.

    .venv/bin/python bench/donor_report.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--areas 2000] [--reports 20000]

Creates a scratch database (dropped at the end), publishes the form library, writes N hazard
areas in two provinces and M approved clearance reports on them (rows written directly, as
intake would store them), two donors with agreements scoped by hazard areas, tasking orders and
P-codes, and prints the time of the donor report and of Form I. Figures are printed, not
asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.db import transaction  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.runtime import make_runtime  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

PLACES = (("LA09", "LA0901"), ("LA13", "LA1301"))


def _xml(form_version: str, i: int, area: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><data id="clearance_report" '
        f'version="{form_version}"><date_of_information>2026-{1 + i % 12:02d}-{1 + i % 28:02d}'
        f"</date_of_information><organisation>NPA</organisation><task_id>T-{i % 50}</task_id>"
        f"<hazard_area>{area}</hazard_area><land_released><area_cancelled_m2>{i % 7}"
        f"</area_cancelled_m2><area_reduced_asset_m2>{i % 11}</area_reduced_asset_m2>"
        f"<area_reduced_no_asset_m2>0</area_reduced_no_asset_m2><area_cleared_m2>{100 + i % 13}"
        f"</area_cleared_m2></land_released><devices><device_category>cmr</device_category>"
        f"<device_model>blu_26</device_model><quantity>{1 + i % 3}</quantity>"
        f"<disposal>destroyed_in_situ</disposal></devices>"
        f"<meta><instanceID>uuid:bench-{i}</instanceID></meta></data>"
    )


def populate(runtime: object, project_id: int, areas: int, reports: int) -> None:
    from server.entities.models import Entity, EntityList
    from server.forms.models import Form, FormVersion
    from server.submissions.models import Submission, SubmissionVersion

    factory = runtime.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        list_id = session.scalar(
            select(EntityList.id).where(
                EntityList.project_id == project_id, EntityList.name == "hazard_areas"
            )
        )
        form_id, version_id, version = session.execute(
            select(Form.id, FormVersion.id, FormVersion.version)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project_id, Form.xml_form_id == "clearance_report")
        ).one()
        session.execute(
            insert(Entity),
            [
                {
                    "list_id": list_id,
                    "uuid": f"area-{n}",
                    "label": f"HA-{n:06d}",
                    "values": {
                        "ha_code": f"HA-{n:06d}",
                        "admin1_pcode": PLACES[n % 2][0],
                        "admin2_pcode": PLACES[n % 2][1],
                    },
                    "current_version": 1,
                }
                for n in range(areas)
            ],
        )
    batch = 5000
    for start in range(0, reports, batch):
        with transaction(factory) as session:
            rows = range(start, min(start + batch, reports))
            session.execute(
                insert(Submission),
                [
                    {
                        "id": i + 1,
                        "project_id": project_id,
                        "form_id": form_id,
                        "root_instance_id": f"uuid:bench-{i}",
                        "current_instance_id": f"uuid:bench-{i}",
                        "review_state": "approved",
                    }
                    for i in rows
                ],
            )
            xmls = {i: _xml(version, i, f"area-{i % areas}") for i in rows}
            session.execute(
                insert(SubmissionVersion),
                [
                    {
                        "submission_id": i + 1,
                        "form_id": form_id,
                        "form_version_id": version_id,
                        "instance_id": f"uuid:bench-{i}",
                        "xml": xmls[i],
                        "xml_sha256": hashlib.sha256(xmls[i].encode()).hexdigest(),
                        "xml_size": len(xmls[i]),
                        "provenance": [],
                    }
                    for i in rows
                ],
            )


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
    parser.add_argument("--areas", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=20000)
    args = parser.parse_args()

    url, name = create_scratch_database(args.database_url, "fieldsync_bench")
    try:
        with TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir), database_url=url, secret_key="bench", log_level="WARNING"
            )
            runtime = make_runtime(settings)
            upgrade(runtime.engine)
            from server.donors import report, service
            from server.forms.service import bundled_form_files, publish_many
            from server.projects.service import create_project
            from server.settings import BUNDLED_FORMS_DIR

            with transaction(runtime.session_factory) as session:
                project = create_project(session, "Bench")
                publish_many(
                    session,
                    runtime.blobs,
                    project,
                    bundled_form_files(BUNDLED_FORMS_DIR),
                    max_bytes=10**7,
                )
                project_id = project.id
            began = time.perf_counter()
            populate(runtime, project_id, args.areas, args.reports)
            print(f"wrote {args.areas} hazard areas and {args.reports} approved reports "
                  f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
            with transaction(runtime.session_factory) as session:
                donor = service.create_donor(
                    session, project_id, {"name": "Bench donor", "iati_org_ref": "GB-GOV-1"}
                )
                for n, scope in enumerate(
                    (
                        {"hazard_areas": [f"area-{i}" for i in range(0, args.areas, 3)]},
                        {"activities": ["T-1", "T-2"], "admin_areas": ["LA13"]},
                    )
                ):
                    agreement = service.create_agreement(
                        session,
                        donor,
                        {
                            "iati_identifier": f"GB-GOV-1-{n}",
                            "title": "Bench",
                            "amount": 1000,
                            "currency": "USD",
                            "period_start": date(2026, 1, 1),
                            "period_end": date(2026, 12, 31),
                            **scope,
                        },
                    )
                    service.add_transaction(
                        session,
                        agreement,
                        {"type": "commitment", "date": date(2026, 2, 1), "value": 10},
                        project_id=project_id,
                    )
                donor_id = donor.id
            with runtime.session_factory() as session:
                donor = service.get_donor(session, project_id, donor_id)
                began = time.perf_counter()
                body = report.donor_report(session, project_id, donor, year=2026)
                took = time.perf_counter() - began
                print(
                    f"donor report over {args.reports} reports: {took:.2f} s "
                    f"({body['totals']['reports']} counted, {body['totals']['released_m2']} m²)"
                )
                began = time.perf_counter()
                rows = report.form_i_funding(session, project_id, 2026)
                print(f"form I: {len(rows)} row(s) in {time.perf_counter() - began:.3f} s")
            runtime.engine.dispose()
    finally:
        drop_scratch_database(url, name)


if __name__ == "__main__":
    main()
