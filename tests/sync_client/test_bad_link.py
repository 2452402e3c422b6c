"""Proven on a bad link: pushing through a proxy that delays, throttles and cuts connections,
while the client process is killed at random moments, ends with every submission on the server
exactly once, every attachment intact, the outbox empty, and a pull that converges.

The default run is bounded (60 submissions, a few kills); ``-m slow`` runs the 500-submission
version the issue asks for.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.forms.models import Form, FormVersion
from server.submissions.models import SubmissionVersion
from sync_client.errors import EXIT_OFFLINE, EXIT_SERVER
from sync_client.store import STORE_NAME
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.sync_client.conftest import Fieldsync
from tests.sync_client.faultproxy import FaultProxy, Faults
from tests.sync_client.odk import SIMPLE_FORM, write_instance
from tests.sync_client.server_state import submissions

pytestmark = pytest.mark.e2e

BAD_LINK = Faults(
    cut_request=0.15,
    cut_response=0.15,
    delay=0.3,
    throttle=0.1,
    delay_seconds=(0.005, 0.05),
    throttle_bytes_per_second=1024 * 1024,
    cut_request_within=12 * 1024,
    cut_response_within=2 * 1024,
)
# Exit codes that mean "the link beat the retry budget this time": run again.
TRANSIENT = (EXIT_OFFLINE, EXIT_SERVER)


@pytest.fixture
def proxy(live_server: object) -> Iterator[FaultProxy]:
    with FaultProxy(live_server.port, BAD_LINK, seed=20261129) as running:  # type: ignore[attr-defined]
        yield running


def run_until_done(
    fieldsync: Fieldsync,
    args: tuple[str, ...],
    rng: random.Random,
    kills: int,
    max_runs: int,
    run_timeout: float = 120,
) -> tuple[int, int, list[str]]:
    """Run a command until it exits 0, killing it at random moments ``kills`` times first.
    Returns (runs, kills done, one line per run)."""
    killed = 0
    log: list[str] = []
    for run in range(1, max_runs + 1):
        started = time.monotonic()
        process = fieldsync.start(*args)
        if killed < kills and rng.random() < 0.7:
            time.sleep(rng.uniform(0.8, 3.0))
            if process.poll() is None:
                process.kill()
                process.communicate()
                killed += 1
                log.append(f"run {run}: killed after {time.monotonic() - started:.1f} s")
                continue
        try:
            out, err = process.communicate(timeout=run_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(
                f"run {run} hung for {run_timeout} s; earlier runs: {log}; stderr: {err}"
            ) from None
        log.append(
            f"run {run}: exit {process.returncode} after {time.monotonic() - started:.1f} s "
            f"{err.strip()}"
        )
        if process.returncode == 0:
            return run, killed, log
        assert process.returncode in TRANSIENT, f"exit {process.returncode}: {err}{out}"
    raise AssertionError(f"{' '.join(args)} did not finish in {max_runs} runs")


def outbox_states(home: Path) -> dict[str, int]:
    with closing(sqlite3.connect(home / STORE_NAME)) as conn:
        return dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())


def local_forms(home: Path) -> set[tuple[str, str, bool]]:
    with closing(sqlite3.connect(home / STORE_NAME)) as conn:
        rows = conn.execute("SELECT form_id, version, xml IS NOT NULL FROM form_versions")
        return {(f, v, bool(x)) for f, v, x in rows}


def server_forms(factories: Factories, project_id: int) -> set[tuple[str, str, bool]]:
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion.version)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project_id)
        ).all()
    return {(f, v, True) for f, v in rows}


def bad_link_run(
    factories: Factories,
    proxy: FaultProxy,
    tmp_path: Path,
    count: int,
    kills: int,
    seed: int,
    run_timeout: float = 120,
) -> None:
    rng = random.Random(seed)
    project = factories.project("Bad link")
    factories.publish(project, SIMPLE_FORM)
    user = factories.user(project, "coordinator")
    fieldsync = Fieldsync(
        tmp_path / "laptop",
        env={"FIELDSYNC_READ_TIMEOUT": "20", "FIELDSYNC_MAX_RETRIES": "40"},
    )

    proxy.enabled = False
    login = fieldsync("login", proxy.url, "--email", user.email, input=DEFAULT_PASSWORD + "\n")
    assert login.returncode == 0, login.stderr
    proxy.enabled = True

    instances = tmp_path / "tablets" / "instances"
    shared = rng.randbytes(6000)  # one photo taken into two forms: uploaded once
    expected: dict[str, dict[str, str]] = {}
    for i in range(count):
        photo = shared if i % 10 == 0 else rng.randbytes(rng.randint(2_000, 40_000))
        instance_id, _ = write_instance(instances, f"HA-{i:04d}", photo=photo)
        expected[instance_id] = {"photo.jpg": hashlib.sha256(photo).hexdigest()}
    imported = fieldsync("import", str(instances))
    assert imported.returncode == 0, imported.stderr
    assert f"imported {count} forms" in imported.stdout

    push_args = ("push", "--batch-size", "15", "--chunk-size", "8192")
    runs, killed, log = run_until_done(
        fieldsync, push_args, rng, kills=kills, max_runs=40 + kills, run_timeout=run_timeout
    )
    assert killed >= 1
    stats = proxy.stats
    print(
        f"\n{count} submissions: {runs} push runs, {killed} killed; {stats.connections} "
        f"connections, {stats.cuts_up} cut mid-request, {stats.cuts_down} cut mid-response"
    )
    print("\n".join(log))

    assert submissions(factories, project.id) == expected
    with factories.session() as session:
        versions = session.scalar(select(func.count()).select_from(SubmissionVersion))
    assert versions == count  # nothing stored twice, nothing turned into an edit
    assert outbox_states(fieldsync.home) == {"sent": count}
    assert proxy.stats.cuts_up + proxy.stats.cuts_down > 0

    run_until_done(fieldsync, ("pull",), rng, kills=1, max_runs=30, run_timeout=run_timeout)
    assert local_forms(fieldsync.home) == server_forms(factories, project.id)
    # converged: the next pull finds nothing new
    for _ in range(20):
        again = fieldsync("pull")
        if again.returncode == 0:
            break
        assert again.returncode in TRANSIENT, again.stderr
    assert again.returncode == 0
    assert "nothing new" in again.stdout


def test_push_through_a_bad_link_with_kills(
    factories: Factories, proxy: FaultProxy, tmp_path: Path
) -> None:
    bad_link_run(factories, proxy, tmp_path, count=60, kills=3, seed=7)


@pytest.mark.slow
def test_push_500_through_a_bad_link_with_kills(
    factories: Factories, proxy: FaultProxy, tmp_path: Path
) -> None:
    bad_link_run(factories, proxy, tmp_path, count=500, kills=10, seed=11, run_timeout=900)
