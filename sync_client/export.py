"""``fieldsync export FORM_ID``: the coordinator's export, offline, from the laptop's store.

In the field there is no link to the centre. The laptop has what it last pulled (every form
version's XForm, review states) and every submission it collected from its hub or imported
from tablets (the outbox, sent or not). From these it writes the same files as the server's
export (ODK Central's shape; see docs/exports.md), with the server's own writers. Columns the
laptop cannot know are left empty: ``SubmitterID`` (server ids). ``SubmissionDate`` is when
the submission reached the laptop or its hub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import click

from sync_client.errors import UsageError
from sync_client.store import Store, parse_moment

_DEPRECATED = re.compile(rb"<(?:\w+:)?deprecatedID>\s*([^<\s]+)\s*</(?:\w+:)?deprecatedID>")
_DEVICE = re.compile(rb"<(?:\w+:)?deviceid>\s*([^<]*?)\s*</(?:\w+:)?deviceid>")


@dataclass(frozen=True)
class _Row:
    outbox_id: int
    instance_id: str
    deprecated_id: str | None
    form_version: str
    created_at: datetime
    via: list[dict[str, Any]]


def form_xforms(
    store: Store, form_id: str, project_id: int | None
) -> tuple[str, list[tuple[str, bytes]]]:
    """(current version, [(version, XForm) newest first]) as last pulled.

    Raises:
        UsageError: the laptop never pulled the form, or holds no XForm for it.
    """
    where = "form_id = ?"
    args: list[Any] = [form_id]
    if project_id is not None:
        where += " AND project_id = ?"
        args.append(project_id)
    form = store.conn.execute(
        f"SELECT current_version FROM forms WHERE {where}",  # noqa: S608 (fixed text)
        args,
    ).fetchone()
    versions = [
        (str(v), bytes(x))
        for v, x in store.conn.execute(
            f"SELECT version, xml FROM form_versions WHERE {where} AND xml IS NOT NULL "  # noqa: S608
            "ORDER BY updated_at DESC, version DESC",
            args,
        )
    ]
    if form is None or not versions:
        raise UsageError(
            f"this laptop has no copy of form {form_id!r}; run 'fieldsync pull' while online"
        )
    return str(form[0] or versions[0][0]), versions


def _rows(store: Store, form_id: str) -> list[_Row]:
    rows = []
    for oid, instance_id, version, body, created, via in store.conn.execute(
        "SELECT id, instance_id, form_version, body, created_at, via FROM outbox "
        "WHERE kind = 'submission' AND form_id = ? ORDER BY id",
        (form_id,),
    ):
        found = _DEPRECATED.search(bytes(body))
        try:
            hops = json.loads(via or "[]")
        except ValueError:
            hops = []
        rows.append(
            _Row(
                outbox_id=oid,
                instance_id=instance_id,
                deprecated_id=found.group(1).decode() if found else None,
                form_version=version,
                created_at=parse_moment(created) or datetime.now(UTC),
                via=hops if isinstance(hops, list) else [],
            )
        )
    return rows


class LaptopSource:
    """The form's submissions as the laptop holds them, current versions only."""

    def __init__(self, store: Store, form_id: str, project_id: int | None) -> None:
        self.store = store
        self.form_id = form_id
        self.project_id = project_id
        rows = _rows(store, form_id)
        by_id = {r.instance_id: r for r in rows}
        replaced = {r.deprecated_id for r in rows if r.deprecated_id}
        self.current: list[tuple[_Row, _Row, int]] = []  # (current, first, edits)
        for row in rows:
            if row.instance_id in replaced:
                continue
            first, edits = row, 0
            while first.deprecated_id and first.deprecated_id in by_id and edits < 10000:
                first, edits = by_id[first.deprecated_id], edits + 1
            self.current.append((row, first, edits))
        # Newest first, as Central.
        self.current.sort(key=lambda t: t[1].outbox_id, reverse=True)

    @property
    def count(self) -> int:
        return len(self.current)

    def _review_state(self, instance_id: str) -> str | None:
        from server.exports.source import CENTRAL_REVIEW_STATE

        row = self.store.conn.execute(
            "SELECT state FROM review_states WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        state = str(row[0]) if row else "received"
        return CENTRAL_REVIEW_STATE.get(state, state)

    def submissions(self, binary: tuple[tuple[str, ...], ...], node: Any = None) -> Iterator[Any]:
        from server.exports import filters
        from server.exports.source import ExportSubmission
        from server.submissions.parse import referenced_files
        from server.xmlsafe import parse

        for current, first, edits in self.current:
            body = bytes(
                self.store.conn.execute(
                    "SELECT body FROM outbox WHERE id = ?", (current.outbox_id,)
                ).fetchone()[0]
            )
            present = self.store.conn.execute(
                "SELECT count(*) FROM outbox_attachments WHERE outbox_id = ?",
                (current.outbox_id,),
            ).fetchone()[0]
            hop = first.via[0] if first.via and isinstance(first.via[0], dict) else {}
            arrived = parse_moment(hop.get("received_at")) or first.created_at
            review = self._review_state(first.instance_id)
            if node is not None and not filters.matches(
                node,
                {
                    "__system/submissionDate": arrived,
                    "__system/updatedAt": current.created_at,
                    "__system/reviewState": review,
                    "__system/submitterId": None,
                },
            ):
                continue
            device = _DEVICE.search(body)
            expected = len(referenced_files(parse(body, "the submission"), binary))
            yield ExportSubmission(
                instance_id=first.instance_id,
                xml=body,
                submission_date=arrived,
                submitter_id=None,
                submitter_name=hop.get("app_user") or None,
                attachments_present=int(present),
                attachments_expected=max(expected, int(present)),
                review_state=review,
                device_id=(device.group(1).decode() if device else "") or None,
                edits=edits,
                form_version=current.form_version,
            )

    def attachments(self) -> Iterator[Any]:
        from server.exports.source import ExportAttachment

        for current, _first, _edits in self.current:
            for name, sha256, size in self.store.conn.execute(
                "SELECT a.name, a.sha256, b.size FROM outbox_attachments a "
                "JOIN blobs b ON b.sha256 = a.sha256 WHERE a.outbox_id = ? ORDER BY a.name",
                (current.outbox_id,),
            ):
                yield ExportAttachment(name=name, size=size, open=self._opener(sha256))

    def _opener(self, sha256: str) -> Any:
        def open_blob() -> AbstractContextManager[BinaryIO]:
            return self.store.open_blob(sha256)

        return open_blob


def export_offline(
    store: Store,
    project_id: int | None,
    form_id: str,
    args: dict[str, str],
    fmt: str,
    out: Path,
) -> tuple[int, int]:
    """Write the export to ``out``; returns (submissions, bytes).

    Raises:
        UsageError: an unknown form or version, or a bad option (the message says which).
    """
    from server.errors import Problem
    from server.exports import csv as csv_writer
    from server.exports.cli_options import write_atomically
    from server.exports.options import ExportFormat, parse_options
    from server.exports.service import pseudonymiser
    from server.exports.tables import build_schema, form_fields, merge_fields
    from server.submissions.parse import binary_paths
    from sync_client.progress import transfer

    try:
        options = parse_options(ExportFormat(fmt), args)
    except Problem as exc:
        raise UsageError(exc.detail) from None
    current, versions = form_xforms(store, form_id, project_id)
    wanted = options.version if options.version is not None else current
    chosen = next((x for v, x in versions if v == wanted), None)
    if chosen is None:
        held = ", ".join(repr(v) for v, _x in versions)
        raise UsageError(
            f"this laptop has no version {wanted!r} of form {form_id!r}; it holds the "
            f"versions it pulled ({held})"
        )
    fields = form_fields(chosen)
    if options.deleted_fields:
        fields = merge_fields(fields, (form_fields(x) for v, x in versions if v != wanted))
    source = LaptopSource(store, form_id, project_id)
    if options.version is not None:
        source.current = [t for t in source.current if t[0].form_version == options.version]
    select_values = None
    binary = binary_paths(f"export-{form_id}-{wanted}", chosen.decode("utf-8"))
    if options.split_select_multiples:
        from server.exports.rows import select_values_in

        paths = {f.path for f in fields if f.select_multiple}
        select_values = select_values_in(
            (s.xml for s in source.submissions(binary, options.filter)), paths
        )
    schema = build_schema(
        form_id,
        fields,
        group_paths=options.group_paths,
        select_values=select_values,
        include_repeats=options.format is not ExportFormat.CSV,
        role="administrator",
    )
    pseudonym = pseudonymiser(f"laptop-{store.home}")
    try:
        if options.format is ExportFormat.GEOJSON:
            from server.exports.geojson import geometry_field

            geometry_field(schema, options.geo_field)
    except Problem as exc:
        raise UsageError(exc.detail) from None
    with transfer(f"exporting {form_id}", 0, source.count) as tracker:
        done = [0]

        def advance(n: int) -> None:
            tracker.advance(items=n - done[0])
            done[0] = n

        subs = source.submissions(binary, options.filter)
        if options.format is ExportFormat.CSV:
            chunks = csv_writer.root_csv(schema, subs, pseudonym, advance)
        elif options.format is ExportFormat.CSV_ZIP:
            media = source.attachments if options.attachments else None
            chunks = csv_writer.csv_zip(schema, subs, media, pseudonym, advance)
        elif options.format is ExportFormat.XLSX:
            from server.exports.xlsx import workbook

            chunks = workbook(schema, subs, pseudonym, advance)
        else:
            from server.exports.geojson import feature_collection

            chunks = feature_collection(schema, subs, options.geo_field, pseudonym, advance)
        size = write_atomically(out, chunks)
    return done[0], size


def _make_command() -> click.Command:
    from server.exports.cli_options import export_options, option_args

    @click.command(
        "export",
        help=(
            "Export FORM_ID's submissions held on this laptop (collected from the hub or "
            "imported), offline, in ODK Central's shape (csv.zip, csv), as XLSX or GeoJSON."
        ),
    )
    @click.argument("form_id")
    @export_options
    def export(
        form_id: str,
        fmt: str,
        out: Path | None,
        no_attachments: bool,
        no_group_paths: bool,
        split_select_multiples: bool,
        deleted_fields: bool,
        filter_text: str | None,
        version: str | None,
        field: str | None,
    ) -> None:
        from sync_client.home import fieldsync_home, load_config
        from sync_client.store import open_store

        home = fieldsync_home()
        config = load_config(home)
        store = open_store(home)
        target = out or Path(f"{form_id}.{fmt}")
        try:
            count, size = export_offline(
                store,
                config.project_id,
                form_id,
                option_args(
                    not no_attachments,
                    not no_group_paths,
                    split_select_multiples,
                    deleted_fields,
                    filter_text,
                    version,
                    field,
                ),
                fmt,
                target,
            )
        finally:
            store.close()
        click.echo(f"wrote {target} ({size} bytes, {count} submissions)")

    return export


export_command = _make_command()
