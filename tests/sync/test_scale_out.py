"""Scale-out, short form: two server hosts (two ``fieldsync-server run --workers 2`` processes
on their own ports, each with a data directory of its own) on one PostgreSQL database with the
database blob store, eight devices on each creating and updating the same hazard areas, every
fourth report with a photo. Nothing acknowledged is lost or stored twice, every entity's versions
run 1..n without a gap, the merged state and conflicts are those one server computes from the
same reports in the same order, and every photo sent to one host is downloaded byte-identical
from the other. (The long form, with throughput, is ``bench/scale_out.py``.)"""

from __future__ import annotations

import os

import pytest

from tests.scale_out_load import check_invariants, cluster, run_load

POSTGRES = os.environ.get("FIELDSYNC_TEST_DATABASE_URL", "").strip()

pytestmark = [
    pytest.mark.database,
    pytest.mark.skipif(
        not POSTGRES or POSTGRES.startswith("sqlite"),
        reason="scale-out is several servers on one PostgreSQL database",
    ),
]


def test_two_hosts_with_workers_keep_every_invariant_of_one_server() -> None:
    with cluster(POSTGRES, hosts=2, workers=2, threads=4) as found:
        load = run_load(found, devices_per_host=8, reports_per_device=20, areas=6)
        assert load.failures == []
        assert len(load.acked) == 2 * 8 * 20
        assert len(load.photos) == 2 * 8 * 5
        assert {host for _i, _s, host in load.photos} == {0, 1}
        assert check_invariants(found, load) == []
