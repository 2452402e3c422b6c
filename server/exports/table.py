"""A page of a form's submissions as the export's root table, for a table on screen: the same
columns and cells as the CSV, filtered (date received, review state, submitter, device, admin
area), sorted and paged in the database."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, asc, desc, func, select
from sqlalchemy.orm import Session

from server.accounts.models import AppUser
from server.exports import service
from server.exports.options import ExportFormat, parse_options
from server.exports.rows import Cell, submission_rows
from server.exports.source import CENTRAL_REVIEW_STATE
from server.exports.tables import ColumnPolicy, build_schema, keep_everything
from server.forms import service as forms
from server.personal.guard import FormGuard
from server.submissions.models import Submission

SORTS = ("received", "review_state", "submitter", "device")
MAX_PAGE = 200


@dataclass(frozen=True)
class TableQuery:
    received_from: date | None = None
    received_to: date | None = None  # inclusive
    review_state: str = ""  # ours: received, has_issues, edited, approved, rejected
    submitter_id: int | None = None
    device_id: str = ""
    admin_area: str = ""  # a P-code, matched against the submission's values
    sort: str = "received"
    descending: bool = True
    limit: int = 50
    offset: int = 0

    def filter_text(self) -> str:
        """The export's ``$filter`` for the metadata parts (the same filter the CSV takes)."""
        parts = []
        if self.received_from:
            parts.append(f"__system/submissionDate ge {self.received_from.isoformat()}")
        if self.received_to:
            until = self.received_to + timedelta(days=1)
            parts.append(f"__system/submissionDate lt {until.isoformat()}")
        if self.review_state:
            central = CENTRAL_REVIEW_STATE.get(self.review_state)
            parts.append(
                "__system/reviewState eq null"
                if central is None
                else f"__system/reviewState eq '{central}'"
            )
        if self.submitter_id is not None:
            parts.append(f"__system/submitterId eq {self.submitter_id}")
        return " and ".join(parts)


@dataclass
class TableRow:
    instance_id: str
    review_state: str
    cells: list[Cell]


@dataclass
class TablePage:
    headers: list[str]
    paths: list[str]  # the field path of each column ("" for the metadata columns)
    rows: list[TableRow] = field(default_factory=list)
    total: int = 0


def _ordered(stmt: Select[Any], query: TableQuery) -> Select[Any]:
    columns = stmt.selected_columns
    key = {
        "received": Submission.id,
        "review_state": columns.review_state,
        "submitter": columns.app_user_name,
        "device": columns.device_id,
    }[query.sort if query.sort in SORTS else "received"]
    order = desc if query.descending else asc
    return stmt.order_by(None).order_by(order(key), order(Submission.id))


def _first(stmt: Select[Any]) -> Any:
    """The submission's first version in the export's statement (the row its device and
    submitter come from). It belongs to the submission itself, so its ``submission_id`` is the
    submission's id, and ordering by it is ordering by the submission."""
    return stmt.selected_columns.device_id.table


def _ids(stmt: Select[Any]) -> Select[Any]:
    return stmt.with_only_columns(Submission.id)


def _page_ids(
    session: Session, form_id: int, ordered: Select[Any], query: TableQuery, limit: int
) -> list[int]:
    """The ids of the page's submissions, in the table's order.

    Sorted by device or submitter, the key is a column of the first version (or of the app
    user it names), and ordering by it and then the submission's id made PostgreSQL join and
    sort every submission of the form for each page (0.9 s at 100,000). The first version's
    own ``submission_id`` orders the same rows the same way, so an index on (form, device,
    submission) gives the page in its order (migration 0016); by submitter, the page is read
    one submitter name at a time, each through the index on (form, app user, submission).
    """
    if query.sort == "device":
        first = _first(ordered)
        order = desc if query.descending else asc
        # device_id is never NULL: saying so lets the planner walk the first versions' index.
        stmt = ordered.where(first.c.device_id.is_not(None)).order_by(None)
        stmt = stmt.order_by(order(first.c.device_id), order(first.c.submission_id))
        return list(session.scalars(_ids(stmt).limit(limit).offset(query.offset)))
    if query.sort == "submitter":
        return _ids_by_submitter(session, form_id, ordered, query, limit)
    return list(session.scalars(_ids(ordered).limit(limit).offset(query.offset)))


def _submitter_groups(session: Session, form_id: int, descending: bool) -> list[list[int]]:
    """The app users who sent the form's submissions, grouped by name in the table's order;
    an empty group stands for the submissions no app user sent (last in ascending order)."""
    from server.submissions.models import SubmissionVersion

    sent = select(SubmissionVersion.submitter_app_user_id).where(
        SubmissionVersion.form_id == form_id,
        SubmissionVersion.submitter_app_user_id.is_not(None),
    )
    order = desc if descending else asc
    rows = session.execute(
        select(AppUser.display_name, AppUser.id)
        .where(AppUser.id.in_(sent.scalar_subquery()))
        .order_by(order(AppUser.display_name), AppUser.id)
    ).all()
    groups: list[list[int]] = []
    last: object = object()
    for name, app_user_id in rows:
        if name != last:
            groups.append([])
            last = name
        groups[-1].append(app_user_id)
    return [[], *groups] if descending else [*groups, []]


def _ids_by_submitter(
    session: Session, form_id: int, ordered: Select[Any], query: TableQuery, limit: int
) -> list[int]:
    first = _first(ordered)
    order = desc if query.descending else asc
    skip = query.offset
    ids: list[int] = []
    for group in _submitter_groups(session, form_id, query.descending):
        sender = first.c.submitter_app_user_id
        if not group:
            # "The first version is there" lets the planner use the index for "no app user".
            where = first.c.id.is_not(None) & sender.is_(None)
        else:
            where = sender == group[0] if len(group) == 1 else sender.in_(group)
        stmt = _ids(ordered.where(where).order_by(None).order_by(order(first.c.submission_id)))
        found = list(session.scalars(stmt.limit(limit - len(ids)).offset(skip)))
        if not found and skip:
            # The whole group lies before the page: count it to know how far to skip on.
            skip -= int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
            skip = max(skip, 0)
            continue
        skip = 0
        ids.extend(found)
        if len(ids) >= limit:
            break
    return ids


def _may_hide(guard: FormGuard | None) -> bool:
    """Whether consent can keep some of the form's submissions from this caller (a partner,
    on a form that saves to a consent-bound list: server.personal.consent)."""
    if guard is None or not guard.rule.consent_bound or not guard.spec.get("dataset"):
        return False
    return guard.access.partner or guard.export


def _shown_ids(session: Session, ordered: Select[Any], guard: FormGuard) -> list[int]:
    """The ids of the submissions the caller is shown, in the table's order: consent is an
    answer inside each submission, so every submission the filter keeps is read once (forms
    of consent-bound lists only, and only for the callers it can hide some from)."""
    stmt = ordered.with_only_columns(Submission.id, ordered.selected_columns.xml)
    return [
        submission_id
        for submission_id, xml in session.execute(stmt)
        if guard.xml(xml if isinstance(xml, str) else xml.decode()) is not None
    ]


def table_page(
    session: Session,
    project_id: int,
    form_id: str,
    query: TableQuery,
    *,
    role: str,
    secret: str,
    policy: ColumnPolicy = keep_everything,
    guard: FormGuard | None = None,
) -> TablePage:
    """One page of the form's submissions as the CSV export's root table. With a ``guard``
    (server.personal), a submission consent keeps from the caller is left out of the page, its
    count and its paging, and the rest are what the caller may see (the export's rule).

    Raises:
        Problem: 404 ``form.not_found``; 400 ``export.bad_filter`` (never for a query built
            from the table's own controls).
    """
    form = forms.get_form(session, project_id, form_id)
    options = parse_options(ExportFormat.CSV, {"$filter": query.filter_text()})
    schema = build_schema(
        form.xml_form_id,
        service.export_fields(session, form, options),
        include_repeats=False,
        policy=policy,
        role=role,
    )
    rows, count = service.statements(
        form, options, device_id=query.device_id, xml_text=query.admin_area
    )
    limit = max(1, min(query.limit, MAX_PAGE))
    columns = schema.root.columns
    page = TablePage(
        headers=schema.root.headers,
        paths=[c.field.path if c.field is not None else "" for c in columns],
    )
    pseudonymise = service.pseudonymiser(secret)
    ordered = _ordered(rows, query)
    if guard is not None and _may_hide(guard):
        visible = _shown_ids(session, ordered, guard)
        page.total = len(visible)
        ids = visible[query.offset : query.offset + limit]
    else:
        page.total = int(session.scalar(count) or 0)
        # The page's ids first, then their rows: skipping 50,000 rows then costs an index walk,
        # not 50,000 rows' XML and attachment counts.
        ids = _page_ids(session, form.id, ordered, query, limit)
    place = {submission_id: index for index, submission_id in enumerate(ids)}
    found = session.execute(ordered.where(Submission.id.in_(ids))).all() if ids else []
    for row in sorted(found, key=lambda r: place[r.id]):
        submission = service.export_submission(row)
        if guard is not None:
            text = submission.xml if isinstance(submission.xml, str) else submission.xml.decode()
            shown = guard.xml(text)
            if shown is None:
                continue
            submission = dataclasses.replace(submission, xml=shown)
        cells = submission_rows(schema, submission, pseudonymise).root
        page.rows.append(TableRow(submission.instance_id, row.review_state, cells))
    return page
