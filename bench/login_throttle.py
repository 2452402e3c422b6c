"""Benchmark: how many password guesses an attacker gets per hour, per account and per address,
and whether a login for an unknown email costs as much as one for a known email.

    .venv/bin/python bench/login_throttle.py [--database-url URL] [--seconds 20]

Serves the app with ``fieldsync-server run`` (waitress) on 127.0.0.1 over a fresh SQLite
database (or the PostgreSQL server named by ``--database-url``, in a scratch database dropped at
the end), with ``FIELDSYNC_PROXY_HOPS=1`` so each attack can come from its own address in
``X-Forwarded-For``. It uses the real policy windows (no clock is advanced): each attack sends
wrong passwords to ``POST /api/v1/sessions`` as fast as it can for ``--seconds`` and counts the
guesses the server checked (401) and the ones it refused unchecked (429). The hourly figures are
the guesses checked in one window times the windows per hour, the window's length taken from
what the server reports (seconds elapsed plus ``Retry-After``); the policy's own figures are
printed next to them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.accounts.throttle import ACCOUNT, ADDRESS, DEFAULT_POLICY  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

PASSWORD = "bench password, not secret"
SERVER = ROOT / ".venv" / "bin" / "fieldsync-server"


@dataclass
class Attack:
    checked: int = 0  # 401: the server looked at the password
    refused: int = 0  # 429: refused without looking
    first_refused_after: float | None = None
    retry_after: int | None = None

    def per_hour(self) -> float | None:
        if self.first_refused_after is None or self.retry_after is None:
            return None
        window = self.first_refused_after + self.retry_after
        return self.checked * 3600 / window


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def attack(url: str, seconds: float, address: str, emails: list[str]) -> Attack:
    """Wrong passwords for ``emails`` in turn, from ``address``, for ``seconds``."""
    result = Attack()
    session = requests.Session()
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < seconds:
        response = session.post(
            f"{url}/api/v1/sessions",
            json={"email": emails[index % len(emails)], "password": f"guess {index}"},
            headers={"X-Forwarded-For": address},
            timeout=30,
        )
        index += 1
        if response.status_code == 401:
            result.checked += 1
        elif response.status_code == 429:
            result.refused += 1
            if result.first_refused_after is None:
                result.first_refused_after = time.monotonic() - started
                result.retry_after = int(response.headers["Retry-After"])
        else:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:200]}")
    return result


def login_ms(url: str, email: str, address: str) -> float:
    started = time.perf_counter()
    response = requests.post(
        f"{url}/api/v1/sessions",
        json={"email": email, "password": "a wrong password"},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 401, response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (default SQLite)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each attack")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    scratch: tuple[str, str] | None = None
    if args.database_url:
        scratch = create_scratch_database(args.database_url, "fieldsync_bench")
        database_url = scratch[0]
    else:
        database_url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench-secret-key",
        "FIELDSYNC_LOG_LEVEL": "WARNING",
        "FIELDSYNC_PROXY_HOPS": "1",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [SERVER, "init", "--no-forms", "--admin-email", "admin@bench.example"],
            env=env,
            check=True,
            capture_output=True,
        )
        victims = [f"victim{i}@bench.example" for i in range(6)]
        for email in victims:
            subprocess.run(
                [SERVER, "user", "create", email],
                env=env,
                check=True,
                input=PASSWORD.encode() + b"\n",
                capture_output=True,
            )
        server = subprocess.Popen(
            [SERVER, "run", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
        for _ in range(100):
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)

        policy = DEFAULT_POLICY
        print(
            f"policy: {policy.per_account} attempts per account and {policy.per_address} per "
            f"address per {policy.window_seconds} s window"
        )
        one_account = attack(url, args.seconds, "198.51.100.1", [victims[0]])
        spray = attack(
            url,
            args.seconds,
            "198.51.100.2",
            [f"sprayed{i}@bench.example" for i in range(policy.per_address)],
        )
        for label, scope, result in (
            ("one account, one address", ACCOUNT, one_account),
            ("many accounts (spray), one address", ADDRESS, spray),
        ):
            measured = result.per_hour()
            shown = f"{measured:.0f}" if measured is not None else "not throttled"
            print(
                f"{label}: {result.checked} guesses checked, then {result.refused} refused "
                f"with 429 in {args.seconds:.0f} s (first 429 after "
                f"{result.first_refused_after or 0:.1f} s, Retry-After {result.retry_after}); "
                f"guesses per hour measured {shown}, by the policy "
                f"{policy.guesses_per_hour(scope):.0f}"
            )

        known, unknown = [], []
        for index in range(4):
            for victim_index, email in enumerate(victims[1:]):
                address = f"203.0.113.{index * 10 + victim_index}"
                known.append(login_ms(url, email, address))
                unknown.append(login_ms(url, f"ghost{index}.{victim_index}@bench.example", address))
        print(
            f"wrong password, median of {len(known)}: known email "
            f"{statistics.median(known):.1f} ms, unknown email {statistics.median(unknown):.1f} ms"
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
        if scratch is not None:
            drop_scratch_database(*scratch)


if __name__ == "__main__":
    main()
