"""Scale-out, long form: throughput of hazard-area reports (create and update the same areas,
every fourth report with a 24 KiB photo) with 1 and 2 gunicorn workers on one host, and with two
hosts of 2 workers each, on one PostgreSQL database; every host has a data directory of its own
and keeps blobs in the database (``FIELDSYNC_BLOB_STORE=database``). Each run is checked for
the invariants of one server (no lost update, no duplicate, gap-free versions, the merged state
and conflicts one server computes) and every photo is downloaded byte-identical from a host
other than the one that took it.

    .venv/bin/python bench/scale_out.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--devices 8] [--reports 60] [--areas 20]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.scale_out_load import check_invariants, cluster, run_load  # noqa: E402

SETUPS = (("1 host, 1 worker", 1, 1), ("1 host, 2 workers", 1, 2), ("2 hosts, 2 workers", 2, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--devices", type=int, default=8, help="devices per host")
    parser.add_argument("--reports", type=int, default=60, help="reports per device")
    parser.add_argument(
        "--areas", type=int, default=12, help="hazard areas they share (at most the devices)"
    )
    args = parser.parse_args()
    failed = False
    for label, hosts, workers in SETUPS:
        with cluster(args.database_url, hosts=hosts, workers=workers) as found:
            # The same number of devices in every setup, spread over the hosts.
            load = run_load(found, max(1, args.devices * 2 // hosts), args.reports, args.areas)
            engine = create_engine(found.database_url)
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT count(*) FROM entity_versions")).scalar()
                conflicts = conn.execute(text("SELECT count(*) FROM entity_conflicts")).scalar()
                chunks = conn.execute(text("SELECT count(*) FROM blob_contents")).scalar()
            engine.dispose()
            problems = check_invariants(found, load)
        failed = failed or bool(problems) or bool(load.failures)
        print(
            f"{label:<20} {len(load.acked) / load.seconds:7.1f} reports/s  "
            f"({len(load.acked)} in {load.seconds:.1f} s, {versions} entity versions, "
            f"{conflicts} conflicts, {len(load.photos)} photos, {chunks} blob chunks, "
            f"load {os.getloadavg()[0]:.1f})  "
            + ("invariants hold" if not problems else "VIOLATED: " + "; ".join(problems))
            + (f"  {len(load.failures)} failed requests" if load.failures else ""),
            flush=True,
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
