"""Exports read from the server's database: the form's tables from its XForm(s), its
submissions streamed in one query (newest first, as Central), and the ETag of the result.

Uses the forms and submissions models as they are; the writers live in ``csv``, ``xlsx`` and
``geojson`` and know nothing of the database.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from server import errors
from server.accounts.models import AppUser, User
from server.blobs.models import Blob
from server.blobs.store import FileBlobStore
from server.exports import csv as csv_writer
from server.exports import filters
from server.exports.opened import EncryptedOpener, instance_of
from server.exports.options import ExportFormat, ExportOptions
from server.exports.rows import select_values_in
from server.exports.source import CENTRAL_REVIEW_STATE, ExportAttachment, ExportSubmission
from server.exports.tables import (
    ColumnAction,
    ColumnPolicy,
    ExportSchema,
    Field,
    build_schema,
    form_fields,
    keep_everything,
    merge_fields,
)
from server.forms import service as forms
from server.forms.models import Form, FormVersion
from server.personal.access import record_read
from server.personal.fields import is_personal_name
from server.personal.guard import FormGuard
from server.projects.keys import unlock_project_key
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion

PAGE = 500
CONTENT_TYPES = {
    ExportFormat.CSV_ZIP: "application/zip",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.GEOJSON: "application/geo+json",
}
_OUR_REVIEW_STATE = {v: k for k, v in CENTRAL_REVIEW_STATE.items() if v is not None}


@dataclass
class PreparedExport:
    """Everything known before the first byte is written."""

    form: Form
    options: ExportOptions
    schema: ExportSchema
    etag: str
    count: int
    submissions: Callable[[], Iterator[ExportSubmission]]
    attachments: Callable[[], Iterator[ExportAttachment]]
    pseudonymise: Callable[[str], str]
    # Encrypted submissions are opened with the passphrase: nothing of the export may be
    # written to disk on the way (the zip's repeat tables are spooled in memory).
    decrypting: bool = False

    @property
    def filename(self) -> str:
        return f"{self.schema.form_id}.{self.options.format.value}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.options.format]


def pseudonymiser(secret: str) -> Callable[[str], str]:
    """A stable pseudonym for a value: the same value gets the same pseudonym in every export
    from this server, and it cannot be reversed without the server's secret."""
    key = secret.encode("utf-8")

    def pseudonym(value: str) -> str:
        digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"pseudonym-{digest[:16]}"

    return pseudonym


def export_fields(session: Session, form: Form, options: ExportOptions) -> list[Field]:
    """The fields of the form version exported (the current one unless ``version`` is given),
    merged with earlier versions' fields when ``deletedFields`` is asked for.

    Raises:
        Problem: 404 ``export.version_not_found``.
    """
    versions = list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.form_id == form.id)
            .order_by(FormVersion.published_at.desc(), FormVersion.id.desc())
        )
    )
    wanted = options.version if options.version is not None else form.current_version
    chosen = next((v for v in versions if v.version == wanted), None)
    if chosen is None:
        raise errors.export_version_not_found(form.xml_form_id, wanted)
    fields = form_fields(chosen.xml)
    if options.deleted_fields:
        fields = merge_fields(fields, (form_fields(v.xml) for v in versions if v is not chosen))
    return fields


def prepare(
    session: Session,
    factory: sessionmaker[Session],
    blobs: FileBlobStore,
    project_id: int,
    form_id: str,
    options: ExportOptions,
    *,
    role: str,
    secret: str,
    policy: ColumnPolicy = keep_everything,
    passphrase: str | None = None,
    guard: FormGuard | None = None,
) -> PreparedExport:
    """Everything an export needs, checked before the response starts. With ``passphrase``,
    encrypted submissions are decrypted in memory as they are written (ADR 0016). With a
    ``guard`` (server.personal), the export is what its caller may see: personal columns and
    files only for a survivor caseworker (the export is then audited), no submission of a
    record whose consent was withdrawn, and for partners only records with consent to share.

    Raises:
        Problem: 404 ``form.not_found`` or ``export.version_not_found``; with a passphrase,
            400 ``encryption.export_format`` (not a CSV export), 409
            ``encryption.not_enabled`` or 400 ``encryption.wrong_passphrase``.
    """
    form = forms.get_form(session, project_id, form_id)
    private_key = None
    if passphrase is not None:
        if options.format not in (ExportFormat.CSV, ExportFormat.CSV_ZIP):
            raise errors.encryption_export_format(options.format.value)
        private_key = unlock_project_key(session, project_id, passphrase)
    fields = export_fields(session, form, options)
    query = _Query(form, options)
    select_values = None
    if options.split_select_multiples:
        paths = {f.path for f in fields if f.select_multiple}
        pages = _pages(_in(session), query.xml_only(), query.oldest_first_after)
        select_values = select_values_in((row.xml for row in pages), paths)
    if guard is not None and not guard.access.may_read:
        policy = personal_columns_dropped(guard.paths, policy)
    schema = build_schema(
        form.xml_form_id,
        fields,
        group_paths=options.group_paths,
        select_values=select_values,
        include_repeats=options.format is not ExportFormat.CSV,
        policy=policy,
        role=role,
    )
    if options.format is ExportFormat.GEOJSON:
        from server.exports.geojson import geometry_field

        geometry_field(schema, options.geo_field)  # refuse a bad field= before streaming
    count, fingerprint = query.fingerprint(session)
    opened = "decrypted" if private_key is not None else "closed"
    seen = _guard_tag(guard)
    etag = hashlib.sha256(
        "|".join(
            [options.key(), role, fingerprint, str(len(schema.root.columns)), opened, seen]
        ).encode()
    ).hexdigest()[:32]
    if guard is not None:
        record_read(session, guard.access, "form_export", [form.xml_form_id])
    opener = EncryptedOpener(factory, blobs, private_key) if private_key is not None else None

    def submissions() -> Iterator[ExportSubmission]:
        for row in _pages(_own(factory), query.rows(), query.newest_first_after):
            shown = _submission(row, opener)
            text = shown.xml if isinstance(shown.xml, str) else shown.xml.decode("utf-8")
            xml = guard.xml(text) if guard is not None else shown.xml
            if xml is not None:
                yield dataclasses.replace(shown, xml=xml)

    def attachments() -> Iterator[ExportAttachment]:
        for row in _pages(_own(factory), query.attachments(), _attachment_after):
            if row.encrypted:  # an encrypted version's .enc files are useless as they are
                continue
            if guard is not None and not guard.attachment_allowed(row.xml, row.name):
                continue
            yield ExportAttachment(name=row.name, size=row.size, open=_opener(blobs, row.sha256))
        # Decrypted media go only to a caller who may read personal data: which file a
        # personal answer names is known only inside the encrypted instance.
        if opener is not None and (guard is None or guard.access.may_read):
            for row in _pages(_own(factory), query.encrypted(), query.oldest_first_after):
                yield from opener.media(row)

    return PreparedExport(
        form=form,
        options=options,
        schema=schema,
        etag=etag,
        count=count,
        submissions=submissions,
        attachments=attachments,
        pseudonymise=pseudonymiser(secret),
        decrypting=private_key is not None,
    )


def personal_columns_dropped(paths: frozenset[str], policy: ColumnPolicy) -> ColumnPolicy:
    """The column policy for a caller who may not read personal data: personal fields
    (``pii_`` names, ``fieldsync:personal`` binds) are left out, the rest as ``policy`` says."""

    def decide(fld: Field, role: str) -> ColumnAction:
        # Field paths, like personal paths, leave the instance's root out.
        if fld.path in paths or is_personal_name(fld.path):
            return ColumnAction.DROP
        return policy(fld, role)

    return decide


def _guard_tag(guard: FormGuard | None) -> str:
    if guard is None:
        return ""
    stones = guard.stones
    seen = f"{int(guard.access.may_read)}{int(guard.access.partner)}"
    return f"{seen}:{len(stones.withdrawn)}:{len(stones.not_shared)}"


Run = Callable[[Select[Any]], list[Any]]


def _in(session: Session) -> Run:
    """Pages read in the caller's transaction (while preparing, before streaming starts)."""
    return lambda stmt: list(session.execute(stmt).all())


def _own(factory: sessionmaker[Session]) -> Run:
    """Pages read each in a short transaction of its own (while streaming)."""

    def run(stmt: Select[Any]) -> list[Any]:
        with factory() as session:
            return list(session.execute(stmt).all())

    return run


def _pages(
    run: Run,
    stmt: Select[Any],
    after: Callable[[Select[Any], Any], Select[Any]],
) -> Iterator[Any]:
    """The statement's rows, a page at a time (keyset pagination). Streamed with :func:`_own`,
    a large export never holds a transaction open, which on SQLite would hold the write lock
    and stop submissions arriving."""
    last = None
    while True:
        page = stmt if last is None else after(stmt, last)
        rows = run(page.limit(PAGE))
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1]


def _attachment_after(stmt: Select[Any], last: Any) -> Select[Any]:
    return stmt.where(SubmissionAttachment.id > last.attachment_id)


def _opener(blobs: FileBlobStore, sha256: str) -> Callable[[], Any]:
    return lambda: blobs.open(sha256)


def write(
    prepared: PreparedExport, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The export's bytes, in chunks, as they are produced."""
    fmt = prepared.options.format
    subs = prepared.submissions()
    if fmt is ExportFormat.CSV:
        return csv_writer.root_csv(prepared.schema, subs, prepared.pseudonymise, progress)
    if fmt is ExportFormat.CSV_ZIP:
        media = prepared.attachments if prepared.options.attachments else None
        return csv_writer.csv_zip(
            prepared.schema,
            subs,
            media,
            prepared.pseudonymise,
            progress,
            in_memory=prepared.decrypting,
        )
    if fmt is ExportFormat.XLSX:
        from server.exports import xlsx

        return xlsx.workbook(prepared.schema, subs, prepared.pseudonymise, progress)
    from server.exports import geojson

    return geojson.feature_collection(
        prepared.schema, subs, prepared.options.geo_field, prepared.pseudonymise, progress
    )


def statements(
    form: Form, options: ExportOptions, *, device_id: str = "", xml_text: str = ""
) -> tuple[Select[Any], Select[Any]]:
    """The export's rows (newest first; rows for :func:`export_submission`) and their count,
    for a caller that pages them itself (the web UI's table). ``device_id`` keeps the
    submissions first sent from that device, ``xml_text`` those whose current version holds a
    value equal to it (an admin area's P-code)."""
    query = _Query(form, options)
    if device_id:
        query.extra.append(query.first.device_id == device_id)
    if xml_text:
        query.extra.append(query.current.xml.contains(f">{xml_text}<", autoescape=True))
    return query.rows(), query.count(needs_current=bool(xml_text))


def export_submission(row: Any) -> ExportSubmission:
    """A row of :func:`statements` as the export writes it."""
    return _submission(row)


def _fields(node: filters.Node) -> set[str]:
    if isinstance(node, filters.BoolOp):
        return _fields(node.left) | _fields(node.right)
    if isinstance(node, filters.Not):
        return _fields(node.operand)
    return {node.field}


def _submission(row: Any, opener: EncryptedOpener | None = None) -> ExportSubmission:
    xml, status = instance_of(row, opener) if row.encrypted else (row.xml, None)
    submitter_id = row.app_user_id if row.app_user_id is not None else row.user_id
    if row.app_user_id is not None:
        name = row.app_user_name
    elif row.user_id is not None:
        name = row.user_name or row.user_email
    else:
        name = None
    return ExportSubmission(
        instance_id=row.root_instance_id,
        xml=xml,
        submission_date=row.created_at,
        submitter_id=submitter_id,
        submitter_name=name,
        attachments_present=int(row.present or 0),
        attachments_expected=int(row.expected or 0),
        review_state=CENTRAL_REVIEW_STATE.get(row.review_state, row.review_state),
        device_id=row.device_id or None,
        edits=max(int(row.versions or 1) - 1, 0),
        form_version=row.form_version,
        status=status,
    )


class _Query:
    """The export's submissions as SQL: one statement for the rows, one for the media, one for
    the count and fingerprint, all with the same filter."""

    def __init__(self, form: Form, options: ExportOptions) -> None:
        self.form = form
        self.options = options
        self.current = aliased(SubmissionVersion, name="current")
        self.first = aliased(SubmissionVersion, name="first")
        self.extra: list[ColumnElement[bool]] = []

    def _base(self, *columns: Any) -> Select[Any]:
        current, first = self.current, self.first
        stmt = (
            select(*columns)
            .select_from(Submission)
            .join(current, (current.submission_id == Submission.id) & current.is_current)
            .join(FormVersion, FormVersion.id == current.form_version_id)
            .outerjoin(
                first,
                (first.form_id == Submission.form_id)
                & (first.instance_id == Submission.root_instance_id),
            )
            .where(Submission.form_id == self.form.id)
        )
        if self.options.version is not None:
            stmt = stmt.where(FormVersion.version == self.options.version)
        if self.options.filter is not None:
            stmt = stmt.where(self._sql(self.options.filter))
        return stmt.where(*self.extra)

    def _sql(self, node: filters.Node) -> ColumnElement[bool]:
        if isinstance(node, filters.BoolOp):
            combine = and_ if node.op == "and" else or_
            return combine(self._sql(node.left), self._sql(node.right))
        if isinstance(node, filters.Not):
            return not_(self._sql(node.operand))
        column: Any
        value = node.value
        if node.field == "__system/submissionDate":
            column = Submission.created_at
        elif node.field == "__system/updatedAt":
            column = Submission.updated_at
        elif node.field == "__system/submitterId":
            column = func.coalesce(self.first.submitter_app_user_id, self.first.submitter_user_id)
        else:
            column = Submission.review_state
            value = "received" if value is None else _OUR_REVIEW_STATE[value]
        if value is None:
            return column.is_(None) if node.op == "eq" else column.is_not(None)
        ops = {
            "eq": column == value,
            "ne": column != value,
            "lt": column < value,
            "le": column <= value,
            "gt": column > value,
            "ge": column >= value,
        }
        return ops[node.op]

    def count(self, *, needs_current: bool) -> Select[Any]:
        """How many submissions the filter keeps, joining only the versions it reads: the
        first version's join is outer on a unique key and each submission has one current
        version, so neither changes the count, and a count over 100,000 submissions then
        reads one index instead of joining three tables."""
        named = _fields(self.options.filter) if self.options.filter is not None else set()
        if needs_current or self.options.version is not None:
            return self._base(func.count(Submission.id))
        stmt = select(func.count(Submission.id)).where(Submission.form_id == self.form.id)
        if "__system/submitterId" in named or self.extra:
            first = self.first
            stmt = stmt.select_from(Submission).outerjoin(
                first,
                (first.form_id == Submission.form_id)
                & (first.instance_id == Submission.root_instance_id),
            )
        if self.options.filter is not None:
            stmt = stmt.where(self._sql(self.options.filter))
        return stmt.where(*self.extra)

    def rows(self) -> Select[Any]:
        current, first = self.current, self.first
        # Correlated counts use the indexes on submission_id and submission_version_id: a
        # page costs its own rows, not a scan of every version.
        versions = (
            select(func.count())
            .where(SubmissionVersion.submission_id == Submission.id)
            .correlate(Submission)
            .scalar_subquery()
        )
        expected = (
            select(func.count())
            .where(SubmissionAttachment.submission_version_id == current.id)
            .correlate(current)
            .scalar_subquery()
        )
        present = (
            select(func.count(SubmissionAttachment.blob_sha256))
            .where(SubmissionAttachment.submission_version_id == current.id)
            .correlate(current)
            .scalar_subquery()
        )
        return (
            self._base(
                Submission.id,
                Submission.root_instance_id,
                Submission.created_at,
                Submission.review_state,
                current.xml,
                current.id.label("version_id"),
                current.encrypted,
                current.instance_id.label("current_instance_id"),
                FormVersion.version.label("form_version"),
                first.device_id,
                first.submitter_user_id.label("user_id"),
                first.submitter_app_user_id.label("app_user_id"),
                User.display_name.label("user_name"),
                User.email.label("user_email"),
                AppUser.display_name.label("app_user_name"),
                versions.label("versions"),
                expected.label("expected"),
                present.label("present"),
            )
            .outerjoin(User, User.id == first.submitter_user_id)
            .outerjoin(AppUser, AppUser.id == first.submitter_app_user_id)
            # Newest first, as Central. Ids follow arrival, and the primary key lets each page
            # start where the last one ended without sorting the form's submissions again.
            .order_by(Submission.id.desc())
        )

    def newest_first_after(self, stmt: Select[Any], last: Any) -> Select[Any]:
        # The second condition is implied by the first through the join, but saying it lets
        # PostgreSQL start its scan of the versions at the page, not at the newest row.
        return stmt.where(Submission.id < last.id, self.current.submission_id < last.id)

    def oldest_first_after(self, stmt: Select[Any], last: Any) -> Select[Any]:
        return stmt.where(Submission.id > last.id, self.current.submission_id > last.id)

    def xml_only(self) -> Select[Any]:
        return self._base(Submission.id, self.current.xml).order_by(Submission.id)

    def attachments(self) -> Select[Any]:
        return (
            self._base(
                SubmissionAttachment.id.label("attachment_id"),
                SubmissionAttachment.name,
                self.current.xml.label("xml"),
                Blob.sha256,
                Blob.size,
                self.current.encrypted,
            )
            .join(
                SubmissionAttachment,
                SubmissionAttachment.submission_version_id == self.current.id,
            )
            .join(Blob, Blob.sha256 == SubmissionAttachment.blob_sha256)
            .order_by(SubmissionAttachment.id)
        )

    def encrypted(self) -> Select[Any]:
        """The encrypted current versions, oldest first, to open their media."""
        current = self.current
        return (
            self._base(
                Submission.id,
                current.id.label("version_id"),
                current.xml,
                current.instance_id.label("current_instance_id"),
            )
            .where(current.encrypted)
            .order_by(Submission.id)
        )

    def fingerprint(self, session: Session) -> tuple[int, str]:
        """How many submissions the export holds, and a string that changes whenever any of
        them (an edit, a review, a late attachment) or the form does."""
        current = self.current
        count, updated, latest = session.execute(
            self._base(
                func.count(Submission.id),
                func.max(Submission.updated_at),
                func.max(current.id),
            )
        ).one()
        files = session.execute(
            self._base(
                func.count(SubmissionAttachment.blob_sha256),
                func.max(SubmissionAttachment.received_at),
            ).join(
                SubmissionAttachment,
                SubmissionAttachment.submission_version_id == current.id,
            )
        ).one()
        form_versions = session.scalar(
            select(func.max(FormVersion.id)).where(FormVersion.form_id == self.form.id)
        )
        parts = [self.form.id, count, updated, latest, files[0], files[1], form_versions]
        return int(count or 0), "|".join(str(p) for p in parts)
