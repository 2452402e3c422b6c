"""Serving the app: waitress in one process (the default: the laptop hub, Windows, a small
server), or gunicorn with several worker processes on Linux (a national server on many cores).

Every worker opens its own runtime after the fork (``load`` runs in the worker), so no database
connection is shared between processes. What must be shared between workers is in the database
already: Digest nonces, login throttles, idempotency keys, upload state; the caches a worker
keeps (app users, forms) check a version number in the database on every use (see
docs/adr/0019-workers-and-caches.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from server import create_app
from server.settings import Settings


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    threads: int
    workers: int  # 0: waitress in this process


def serve_waitress(app: Flask, settings: Settings, options: ServeOptions) -> None:
    import waitress

    waitress.serve(
        app,
        host=options.host,
        port=options.port,
        threads=options.threads,
        ident="fieldsync",
        max_request_body_size=settings.max_upload_bytes + 1024 * 1024,
        channel_timeout=300,
        # Behind trusted proxies (FIELDSYNC_PROXY_HOPS) the app reads X-Forwarded-For.
        clear_untrusted_proxy_headers=not settings.proxy_hops,
        _quiet=True,
    )


def gunicorn_available() -> bool:
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:  # Windows, or an install without it
        return False
    return True


def serve_gunicorn(settings: Settings, options: ServeOptions) -> None:
    """Serve with ``options.workers`` gunicorn processes of ``options.threads`` threads each
    (the ``gthread`` worker: keep-alive connections, as Collect and the sync client use)."""
    from gunicorn.app.base import BaseApplication

    class _Fieldsync(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{options.host}:{options.port}",
                "workers": options.workers,
                "worker_class": "gthread",
                "threads": options.threads,
                "keepalive": 75,
                "timeout": 300,
                "graceful_timeout": 30,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "fieldsync",
                # The app reads X-Forwarded-For itself (FIELDSYNC_PROXY_HOPS); gunicorn must not
                # trust a forwarded scheme from anyone else.
                "forwarded_allow_ips": "127.0.0.1" if settings.proxy_hops else "",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            # Runs in each worker after the fork: its own engine and pool.
            return create_app(settings)

    _Fieldsync().run()
