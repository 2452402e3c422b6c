"""The bare handler: the floor that fieldsync's ingest is measured against.

A Flask app that does the least an OpenRosa submission endpoint can do: read the multipart body
(werkzeug), parse the XML part with lxml, take the instanceID, and commit one PostgreSQL row per
request through psycopg; served by gunicorn with 3 sync workers. It answers the same URLs as a
device URL of fieldsync (``HEAD``/``POST …/submission``), so ``bench/ingest.py --compare-bare``
drives both with the same load generator in alternating runs and reports the ratio.

    .venv/bin/python bench/bare_handler.py --port 5099 \
        --database-url postgresql://postgres@127.0.0.1:5432/fieldsync_bench_x
"""

from __future__ import annotations

import argparse
from typing import Any

import psycopg
from flask import Flask, Response, request
from lxml import etree

RESPONSE = (
    b'<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
    b'<message nature="submit_success">received</message></OpenRosaResponse>'
)
SCHEMA = """CREATE TABLE IF NOT EXISTS bare_submissions (
    id bigserial PRIMARY KEY,
    instance_id text NOT NULL UNIQUE,
    xml text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)"""
INSTANCE_ID = etree.XPath("//*[local-name()='instanceID']/text()")


def create_app(dsn: str) -> Flask:
    app = Flask("bare_handler")
    state: dict[str, Any] = {}

    def connection() -> psycopg.Connection[Any]:
        # One connection per worker process, opened after the fork.
        conn = state.get("conn")
        if conn is None or conn.closed:
            conn = state["conn"] = psycopg.connect(dsn)
        return conn

    @app.route("/healthz")
    def healthz() -> Response:
        return Response("ok", status=200)

    @app.route("/<path:_prefix>/submission", methods=["HEAD", "GET"])
    def probe(_prefix: str) -> Response:
        return Response(status=204, headers={"X-OpenRosa-Version": "1.0"})

    @app.route("/<path:_prefix>/submission", methods=["POST"])
    def submission(_prefix: str) -> Response:
        upload = request.files.get("xml_submission_file")
        if upload is None:
            return Response("no xml_submission_file", status=400)
        xml = upload.read()
        for name, part in request.files.items():
            if name != "xml_submission_file":
                part.read()
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
        found = INSTANCE_ID(root)
        if not found:
            return Response("no instanceID", status=400)
        conn = connection()
        with conn.transaction():
            conn.execute(
                "INSERT INTO bare_submissions (instance_id, xml) VALUES (%s, %s)"
                " ON CONFLICT (instance_id) DO NOTHING",
                (str(found[0]), xml.decode("utf-8")),
            )
        return Response(
            RESPONSE,
            status=201,
            content_type="text/xml; charset=utf-8",
            headers={"X-OpenRosa-Version": "1.0"},
        )

    return app


def serve(dsn: str, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    with psycopg.connect(dsn) as conn:
        conn.execute(SCHEMA)

    class _Bare(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("keepalive", 75)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", "warning")

        def load(self) -> Flask:
            return create_app(dsn)

    _Bare().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to write to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5099)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    dsn = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    serve(dsn, args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
