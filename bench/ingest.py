"""Ingest benchmark: many ODK Collect devices submitting to ``fieldsync-server run``.

Creates its own PostgreSQL database and data directory, initialises them, publishes a small
survey form with a photo field and a form whose reports create hazard areas, creates an app
user, starts the server as a subprocess (waitress, or gunicorn with ``--workers N``), and drives
it like Collect does: per device a keep-alive connection, a HEAD on /submission before each
batch, then multipart POSTs with unique instanceIDs. Prints submissions/s, p50/p95/p99 latency
of the POSTs, the server's CPU per submission and the machine's load averages for small
submissions at several concurrencies, entity-creating submissions, submissions with a 200 KB
photo, and the server's resident memory per worker over a long run. With ``--compare-bare`` it
also starts the bare handler (``bench/bare_handler.py``) on the same database and alternates
runs between the two, printing the ratio. Everything it created is removed at the end.

    .venv/bin/python bench/ingest.py --workers 3                    # the recommended server
    .venv/bin/python bench/ingest.py --workers 3 --compare-bare     # with the bare handler
    .venv/bin/python bench/ingest.py --workers 3 --count 20000      # flat memory per worker
    .venv/bin/python bench/ingest.py --database-url sqlite          # the embedded default
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from devices import (  # noqa: E402
    BENCH_FORM,
    ENTITY_FORM,
    SERVER,
    Run,
    Target,
    cli,
    free_port,
    library_template,
    load,
    wait_until_up,
    worker_rss_mb,
)

from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

LIBRARY_FORM = ROOT / "forms" / "hazard_report.xlsx"


def start_server(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_until_up(port, server)
    return server


def stop_server(server: subprocess.Popen[bytes] | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


def long_run(target: Target, count: int) -> None:
    """``count`` small submissions at c=8, memory of every worker sampled as it goes."""
    print(f"long run: {count} small submissions at c=8, memory of each worker sampled")
    samples = [worker_rss_mb(target.pid)]
    step = max(500, count // 10)
    runs: list[Run] = []
    while sum(r.submissions for r in runs) < count:
        n = min(step, count - sum(r.submissions for r in runs))
        runs.append(load(target, "long run", 8, n))
        samples.append(worker_rss_mb(target.pid))
    summary = Run(
        "long run",
        8,
        sum(r.submissions for r in runs),
        sum(r.seconds for r in runs),
        [x for r in runs for x in r.latencies],
        [x for r in runs for x in r.failures],
        server_cpu=sum(r.server_cpu for r in runs),
        load=os.getloadavg(),
    )
    print(summary.line())
    for i, (start, end) in enumerate(zip(samples[0], samples[-1], strict=False)):
        trail = ", ".join(f"{s[i]:.0f}" for s in samples if i < len(s))
        print(f"worker {i + 1} RSS (MB): {start:.0f} after warm-up, {end:.0f} at the end ({trail})")
    target.runs.append(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the bench database on, or 'sqlite'",
    )
    parser.add_argument(
        "--small", type=int, default=2000, help="small submissions per concurrency level (0: none)"
    )
    parser.add_argument(
        "--concurrency", default="1,8,32", help="comma-separated device counts for the small runs"
    )
    parser.add_argument(
        "--entities", type=int, default=1000, help="entity-creating submissions (concurrency 8)"
    )
    parser.add_argument(
        "--library",
        type=int,
        default=0,
        help="hazard reports of the form library, each creating a hazard area, whose reports' "
        "facts are kept at intake (concurrency 8; 0: none)",
    )
    parser.add_argument(
        "--photos", type=int, default=400, help="submissions with a photo (concurrency 8)"
    )
    parser.add_argument("--photo-kb", type=int, default=200)
    parser.add_argument(
        "--count",
        type=int,
        default=4000,
        help="submissions in the long run that samples each worker's memory (0: none)",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per server process")
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn workers (0: waitress, one process)"
    )
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--compare-bare",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="alternate ROUNDS pairs of small c=8 runs with the bare handler and print the ratio",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record the server's Python CPU (py-spy --gil; pip install '.[bench]'): a flame "
        "graph (.svg), "
        "or collapsed stacks (.txt) for bench/profile_summary.py",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and data directory for inspection"
    )
    args = parser.parse_args()

    sqlite = args.database_url == "sqlite"
    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    if sqlite:
        db_url, db_name = f"sqlite:///{data_dir / 'bench.sqlite3'}", ""
    else:
        db_url, db_name = create_scratch_database(args.database_url, "fieldsync_bench")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FIELDSYNC_DATA_DIR": str(data_dir),
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELDSYNC_ENV": "production",
        "FIELDSYNC_LOG_LEVEL": "INFO",
    }
    servers: list[subprocess.Popen[bytes]] = []
    profiler: subprocess.Popen[bytes] | None = None
    try:
        cli(env, "init", "--no-forms")
        for name, form in (("bench_form.xml", BENCH_FORM), ("bench_entity.xml", ENTITY_FORM)):
            (data_dir / name).write_text(form)
            cli(env, "forms", "publish", str(data_dir / name))
        template = ""
        if args.library:
            cli(env, "forms", "publish", str(LIBRARY_FORM))
            template = library_template(LIBRARY_FORM)
        device_url = cli(env, "app-user", "create", "bench devices").strip().splitlines()[-1]
        base_path = "/" + device_url.split("://", 1)[1].split("/", 1)[1]

        port = free_port()
        command = [str(SERVER), "run", "--port", str(port), "--threads", str(args.threads)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        servers.append(start_server(command, env, port, data_dir / "server.log"))
        server = servers[0]
        how = f"gunicorn, {args.workers} workers" if args.workers else "waitress, one process"
        print(
            f"fieldsync-server run on {'SQLite' if sqlite else 'PostgreSQL'} ({how}, "
            f"{args.threads} threads each), {os.cpu_count()} CPUs shared with "
            f"{args.client_processes} client processes"
        )
        if args.profile:
            profiler = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "--subprocesses",
                    "--gil",
                    "--format",
                    "raw" if args.profile.suffix == ".txt" else "flamegraph",
                    "-o",
                    str(args.profile),
                    "--pid",
                    str(server.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        with multiprocessing.Pool(args.client_processes) as pool:
            target = Target(pool, args.client_processes, port, base_path, server.pid)
            load(target, "warm-up", 4, 200)
            levels = [int(c) for c in args.concurrency.split(",") if c] if args.small else []
            for concurrency in levels:
                target.report(load(target, "small submissions", concurrency, args.small))
            if args.entities:
                target.report(load(target, "entity-creating", 8, args.entities, kind="entity"))
            if args.library:
                label = "hazard report (library)"
                run = load(target, label, 8, args.library, kind="template", template=template)
                target.report(run)
            if args.photos:
                label = f"with a {args.photo_kb} KB photo"
                photo = args.photo_kb * 1024
                target.report(load(target, label, 8, args.photos, photo_bytes=photo))
            if args.count:
                long_run(target, args.count)
            if args.compare_bare:
                compare_bare(target, args, db_url, data_dir, servers)

        check_stored(db_url, 200 + sum(r.submissions for r in target.runs))
        failed = [f for r in target.runs for f in r.failures]
        if failed:
            print(f"{len(failed)} requests failed, first: {failed[0]}")
            sys.exit(1)
    finally:
        if profiler is not None:
            profiler.send_signal(2)
            profiler.wait(timeout=60)
        for server in servers:
            stop_server(server)
        if not args.keep:
            if db_name:
                drop_scratch_database(args.database_url, db_name)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept database {db_name or db_url} and data directory {data_dir}")


def compare_bare(
    target: Target,
    args: argparse.Namespace,
    db_url: str,
    data_dir: Path,
    servers: list[subprocess.Popen[bytes]],
) -> None:
    """Alternate small c=8 runs: fieldsync, the bare handler, fieldsync, ..."""
    if args.database_url == "sqlite":
        sys.exit("--compare-bare needs PostgreSQL (the bare handler writes with psycopg)")
    port = free_port()
    command = [
        str(ROOT / ".venv/bin/python"),
        str(ROOT / "bench/bare_handler.py"),
        "--port",
        str(port),
        "--workers",
        "3",
        "--database-url",
        db_url.replace("postgresql+psycopg://", "postgresql://"),
    ]
    servers.append(start_server(command, dict(os.environ), port, data_dir / "bare.log"))
    bare = Target(target.pool, target.processes, port, target.base_path, servers[-1].pid)
    ours, theirs = [], []
    for _round in range(args.compare_bare):
        ours.append(load(target, "fieldsync small", 8, args.small))
        target.runs.append(ours[-1])
        print(ours[-1].line(), flush=True)
        theirs.append(load(bare, "bare handler small", 8, args.small))
        print(theirs[-1].line(), flush=True)
    for mine, floor in zip(ours, theirs, strict=True):
        print(
            f"ratio fieldsync / bare handler: {mine.rate / floor.rate:.2f} "
            f"({mine.rate:.0f}/s against {floor.rate:.0f}/s; p95 {mine.percentile(95):.0f} ms "
            f"against {floor.percentile(95):.0f} ms; load {mine.load[0]:.1f})"
        )


def check_stored(db_url: str, expected: int) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM submissions")).scalar_one()
    engine.dispose()
    print(f"submissions stored: {stored} (sent {expected})")
    if stored != expected:
        sys.exit("the database does not hold exactly the submissions sent")


if __name__ == "__main__":
    main()
